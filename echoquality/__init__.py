"""Regional image quality for echocardiography.

One frame's way: `sources` (file or scanner) → `streaming.graph` (preprocess → segmentation →
regions → quality → split screen, FAST process objects over the numpy functions of `core`,
models from `inference`) → one `core.records.FrameResult` per frame → `outputs` (CSV, masks,
video, recording) or the GUI (`app`). `commands` holds the command line.
"""
__version__ = "0.1.0"
