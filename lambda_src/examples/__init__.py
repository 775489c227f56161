"""Example user handlers, referenced by ``workflows/*.yaml`` as ``examples.<module>.<function>``."""
