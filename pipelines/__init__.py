"""Processing stages: source → preprocess → segmentation → regions → quality → split screen.

Each module holds a pure numpy/ONNX core (tested without FAST) and, where it is a stage of
the streaming chain, a thin FAST process object around it. `graph.py` wires the chain.
"""
