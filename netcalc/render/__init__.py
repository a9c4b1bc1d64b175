"""Renderers: functions of a finished report, nothing else. Each format is one entry in a dict."""
