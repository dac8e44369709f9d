"""Action classes, one module per action; the manifest names each class."""
