"""The FAST streaming chain: bridge, the one frame-data codec, the stages and the graph."""
