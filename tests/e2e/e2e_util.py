"""Helpers shared by the end-to-end tests (imported by name, so keep the module name unique)."""
import subprocess


def run(cmd, **kw):
    """Runs a command and captures its output as text (undecodable bytes replaced)."""
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, errors="replace",
                          timeout=600, **kw)
