"""Resource storage behind one protocol: MongoDB and an in-memory reference implementation."""
