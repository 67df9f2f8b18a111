"""Syntax checking of FHIRPath, which fhirpathpy's own parse does not do."""

from __future__ import annotations

from typing import Any

from antlr4 import CommonTokenStream, InputStream
from antlr4.error.ErrorListener import ErrorListener
from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer
from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser


class FhirPathSyntaxError(ValueError):
    """An expression that is not FHIRPath."""


class _Raise(ErrorListener):
    def syntaxError(  # ANTLR's name
        self, recognizer: Any, offending: Any, line: int, column: int, msg: str, e: Any
    ) -> None:
        raise FhirPathSyntaxError(f"column {column + 1}: {msg}")


def check_syntax(expression: str) -> None:
    """Raise ``FhirPathSyntaxError`` unless ``expression`` is one whole FHIRPath expression.

    fhirpathpy's own parse recovers from syntax errors silently (``Patient.name.(((``
    and ``Patient.name where`` both compile, as ``Patient.name``), so this parses with the
    grammar's ``entireExpression`` rule and an error listener that raises.
    """
    lexer = FHIRPathLexer(InputStream(expression))
    lexer.removeErrorListeners()
    lexer.addErrorListener(_Raise())
    parser = FHIRPathParser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(_Raise())
    parser.entireExpression()
