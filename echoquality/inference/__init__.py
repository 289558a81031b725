"""Model inference: backends (onnxruntime, OpenVINO) and the registry of model folders."""
