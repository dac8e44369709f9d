"""The generic plugin core every platform package ships; it reaches product code only through
plugin.yaml's ``module:Class`` strings."""
