"""The bottom layer: settings, clients of the engines, epoch-ms time and shared errors."""
