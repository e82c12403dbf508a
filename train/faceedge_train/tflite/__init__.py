"""The project's own TFLite writer: a FlatBuffers builder, the TFLite schema subset faceedge needs,
a one-subgraph graph writer, a reader for checking files, and a runner for the real runtime."""
