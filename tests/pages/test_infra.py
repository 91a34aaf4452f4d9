"""The test plumbing itself: each database fixture really holds the demo data, Chromium works."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_database_holds_demo_customers(db_url: str, demo_frames: dict[str, Any]) -> None:
    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            count = conn.execute(sa.text("SELECT count(*) FROM customers")).scalar_one()
    finally:
        engine.dispose()
    assert count == len(demo_frames["customers"])


def test_browser_screenshots_a_data_url(page: Any, tmp_path: Path) -> None:
    page.goto("data:text/html;charset=utf-8,<h1 id='t'>ServiceWatch</h1>")
    assert page.locator("#t").inner_text() == "ServiceWatch"
    shot = tmp_path / "shot.png"
    page.screenshot(path=str(shot))
    data = shot.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000


# Two different CJK characters drawn with the page's default font: without a CJK font Chromium
# draws both as the same empty box (tofu), so their pixels are identical.
_GLYPHS_DIFFER_JS = """() => {
  const draw = (ch) => {
    const c = document.createElement('canvas');
    c.width = 64; c.height = 64;
    const g = c.getContext('2d');
    g.fillStyle = '#fff'; g.fillRect(0, 0, 64, 64);
    g.fillStyle = '#000'; g.font = '48px sans-serif'; g.textBaseline = 'top';
    g.fillText(ch, 4, 4);
    return c.toDataURL();
  };
  return { a: draw('服'), b: draw('务'), blank: draw(' ') };
}"""


def test_browser_renders_chinese(page: Any) -> None:
    page.set_content("<html lang='zh-CN'><body>服务质量</body></html>")
    glyphs = page.evaluate(_GLYPHS_DIFFER_JS)
    assert glyphs["a"] != glyphs["blank"], "nothing drawn for a Chinese character"
    assert glyphs["a"] != glyphs["b"], "Chinese drawn as empty boxes: install fonts-noto-cjk (make system)"
