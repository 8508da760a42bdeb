"""Test vectors published in RFC 8785 (JSON Canonicalization Scheme), kept in one place."""

from __future__ import annotations

import struct

__all__ = [
    "APPENDIX_B",
    "APPENDIX_B_NON_FINITE",
    "SECTION_3_2_2_INPUT",
    "SECTION_3_2_2_OUTPUT",
    "SECTION_3_2_3_INPUT",
    "SECTION_3_2_3_OUTPUT",
    "double",
]


def double(bits: str) -> float:
    """The IEEE-754 binary64 value whose bits are the 16 hex digits ``bits``."""
    value: float = struct.unpack(">d", bytes.fromhex(bits))[0]
    return value


# Appendix B, "Number Serialization Samples": IEEE-754 bits -> ECMAScript text.
APPENDIX_B: list[tuple[str, str]] = [
    ("0000000000000000", "0"),  # zero
    ("8000000000000000", "0"),  # minus zero
    ("0000000000000001", "5e-324"),  # smallest positive (subnormal)
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),  # largest finite
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),  # 2**53
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),  # 2**68
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),  # round to even
]

# Appendix B's NaN and Infinity rows have no JSON form; -Infinity added for symmetry.
APPENDIX_B_NON_FINITE: list[str] = ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"]

# Section 3.2.2, the sample object (as JSON text) and its canonical form.
SECTION_3_2_2_INPUT = r"""{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"""
SECTION_3_2_2_OUTPUT = (
    '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
    '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
).encode()

# Section 3.2.3, sorting of object properties by UTF-16 code units: the emoji (surrogates
# D83D DE00) sorts before U+FB33, although its code point is larger.
SECTION_3_2_3_INPUT = r"""{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}"""
SECTION_3_2_3_OUTPUT = (
    '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
    '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
    '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
).encode()
