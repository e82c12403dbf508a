"""faceedge training package: 64x64 face classifier training, int8 TFLite export and evaluation."""
