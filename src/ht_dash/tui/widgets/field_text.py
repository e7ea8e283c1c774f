"""A Static of `Label     value` lines whose values wrap under themselves, not under the label."""

from __future__ import annotations

import re

from textual.content import Content
from textual.widgets import Static

# "Stored in     built-in demo…": a label, then two or more spaces up to the value's column.
FIELD = re.compile(r"^\S(?:[^ ]| (?! ))*? {2,}")
MAX_LABEL = 16  # a longer lead-in is a sentence, not a label


def hang(content: Content, width: int) -> Content:
    """Each `Label   value` line wrapped to `width` with its continuation lines indented to the
    value; other lines are left to the widget's own wrapping."""
    out: list[Content] = []
    for line in content.split("\n", allow_blank=True):
        match = FIELD.match(line.plain)
        indent = match.end() if match else 0
        if not indent or indent > MAX_LABEL or width - indent < 12 or line.cell_length <= width:
            out.append(line)
            continue
        label, value = line.divide([indent])
        wrapped = value.wrap(width - indent)
        out.append(label + wrapped[0])
        out.extend(Content(" " * indent) + rest for rest in wrapped[1:])
    return Content("\n").join(out)


class FieldText(Static):
    """Static for label/value panels (screen 1's token and account, screen 5's invoice): at 60
    columns 'your keyring is not used' continues under the value instead of under 'Stored in'."""

    def render(self) -> Content:  # type: ignore[override]
        visual = self.visual
        if not isinstance(visual, Content):
            return visual  # type: ignore[return-value]
        return hang(visual, self.content_region.width or self.size.width)
