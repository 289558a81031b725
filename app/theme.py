"""A dark theme for a dim scanning room."""
from __future__ import annotations

from PyQt6.QtGui import QColor, QPalette
from PyQt6.QtWidgets import QApplication

ACCENT = QColor(64, 156, 255)
STYLE_SHEET = """
QMainWindow, QWidget { background: #121418; color: #e4e6ea; }
QToolBar { background: #1b1e24; border: none; spacing: 6px; padding: 4px; }
QToolBar QToolButton { padding: 5px 9px; border-radius: 5px; font-size: 14px; }
QToolBar QToolButton:hover { background: #2a2f38; }
QToolBar QToolButton:checked { background: #30465f; }
QToolButton#record:checked { background: #b3261e; color: white; }
QComboBox { background: #22262d; border: 1px solid #3a404a; border-radius: 5px; padding: 4px 10px; font-size: 14px;
            min-width: 90px; }
QComboBox QAbstractItemView { background: #22262d; selection-background-color: #30465f; }
QLabel#header { color: #aab0ba; font-size: 14px; font-weight: bold; padding: 2px 4px; }
QLabel#sourceName { color: #e4e6ea; font-size: 14px; font-weight: bold; padding: 2px 8px; }
QStatusBar { background: #1b1e24; color: #c8ccd2; font-size: 13px; }
QStatusBar QLabel { padding: 0 10px; }
QMenuBar { background: #1b1e24; }
QMenuBar::item:selected, QMenu::item:selected { background: #30465f; }
QMenu { background: #1e2228; border: 1px solid #3a404a; }
"""


def apply_dark_theme(app: QApplication) -> None:
    """Fusion style with a dark palette and the style sheet above."""
    app.setStyle("Fusion")
    palette = QPalette()
    for role, colour in ((QPalette.ColorRole.Window, QColor(18, 20, 24)),
                         (QPalette.ColorRole.WindowText, QColor(228, 230, 234)),
                         (QPalette.ColorRole.Base, QColor(28, 31, 37)),
                         (QPalette.ColorRole.AlternateBase, QColor(34, 38, 45)),
                         (QPalette.ColorRole.Text, QColor(228, 230, 234)),
                         (QPalette.ColorRole.Button, QColor(34, 38, 45)),
                         (QPalette.ColorRole.ButtonText, QColor(228, 230, 234)),
                         (QPalette.ColorRole.Highlight, ACCENT),
                         (QPalette.ColorRole.HighlightedText, QColor(255, 255, 255)),
                         (QPalette.ColorRole.ToolTipBase, QColor(34, 38, 45)),
                         (QPalette.ColorRole.ToolTipText, QColor(228, 230, 234))):
        palette.setColor(role, colour)
    app.setPalette(palette)
    app.setStyleSheet(STYLE_SHEET)
