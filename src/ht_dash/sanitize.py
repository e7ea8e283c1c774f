"""Text from outside (a server, a file) made safe for a terminal and for a spreadsheet.

`terminal_safe` removes whole ESC sequences (CSI, OSC such as an OSC 52 clipboard write, DCS,
…) and every other C0/C1 control character, so no outside string can move the cursor, clear the
screen, set the title or write the clipboard. Applied where outside text enters (the contract's
parser, the client's error messages, the offline cache) and once more where the CLI writes text.
"""

from __future__ import annotations

import re

# ESC or its 8-bit C1 form, then the rest of the sequence:
#   CSI  ESC [ params intermediates final        (or 0x9b)
#   OSC/DCS/SOS/PM/APC  ESC ] P X ^ _ … up to ST (ESC \, 0x9c) or BEL, or the end of the text
#   any other ESC: intermediates and one final byte
_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_BREAK = re.compile(r"\r\n|[\r\n\t]")
SPREADSHEET_TRIGGERS = ("=", "+", "-", "@")


def terminal_safe(text: str, *, multiline: bool = False) -> str:
    """`text` without ESC sequences or control characters.

    Single-line (the default): tabs and line breaks become spaces. `multiline` keeps `\\n` and
    `\\t` (CR LF and lone CR become `\\n`) for fields that legitimately hold several lines.
    """
    text = _SEQUENCE.sub("", text)
    if multiline:
        return _CONTROL_BUT_LINES.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return _CONTROL.sub("", _LINE_BREAK.sub(" ", text))


def spreadsheet_safe(cell: object) -> object:
    """A CSV cell a spreadsheet will not run as a formula; non-strings are returned unchanged.

    Text starting with `=`, `+`, `-`, `@` gets a leading `'`, as OWASP advises; plain negative
    numbers such as `-12.50` stay numbers. Line breaks survive (CSV quotes them); tabs do not.
    """
    if not isinstance(cell, str):
        return cell
    cell = terminal_safe(cell, multiline=True).replace("\t", " ")
    if cell.startswith(SPREADSHEET_TRIGGERS) and not _is_number(cell):
        return "'" + cell
    return cell


def from_spreadsheet(cell: str) -> str:
    """The text `spreadsheet_safe` guarded, as it was (reading back a file ht-dash wrote)."""
    if cell.startswith("'") and cell[1:].startswith(SPREADSHEET_TRIGGERS):
        return cell[1:]
    return cell


# A plain or money-formatted number (`-12.50`, `-$20.00`, `-1,234.00 CHF`): data, not a formula.
_NUMBER = re.compile(r"[-+]?[$€£¥]?\d[\d,]*(?:\.\d+)?(?: [A-Z]{3})?")


def _is_number(text: str) -> bool:
    return _NUMBER.fullmatch(text) is not None
