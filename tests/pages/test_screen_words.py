"""The words servicewatch.screen draws by CSS (the uploader's button and limit, the chart's fullscreen
button) are CSS strings of the catalogue's text: Chinese characters as they are, never JSON's escapes
(which CSS reads as "u9009u62e9…")."""

from __future__ import annotations

from metrics.model.i18n import t
from servicewatch.screen import css, css_string


def test_css_string() -> None:
    assert css_string("选择文件") == '"选择文件"'
    assert css_string('say "hi" \\ there') == '"say \\"hi\\" \\\\ there"'


def test_style_sheet_holds_the_chinese_words() -> None:
    sheet = css("zh")
    assert f'content: "{t("screen.upload_browse", "zh")}"' in sheet
    assert f'content: "{t("plot.modebar.fullscreen", "zh")}"' in sheet
    assert "\\u" not in sheet
