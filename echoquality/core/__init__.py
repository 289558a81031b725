"""Numpy-only building blocks: vocabulary, records, preprocessing, sector, regions, quality, rendering.

No FAST, no Qt: training imports these too.
"""
