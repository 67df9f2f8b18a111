"""One extractor per SearchParameter type; each turns FHIRPath results into index entries."""
