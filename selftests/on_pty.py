#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""on_pty.py OUT LINE COMMAND...: runs COMMAND on a new pseudo-terminal (its
controlling terminal and standard streams), types LINE into it once the
file OUT.go exists, writes all the terminal showed to OUT and exits with
COMMAND's status. For the selftests: programs blocked reading a terminal."""

import os
import pty
import sys
import time

out, line, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
pid, master = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
while not os.path.exists(out + ".go"):
    time.sleep(0.1)
os.write(master, line.encode() + b"\n")
shown = b""
while True:
    try:
        chunk = os.read(master, 4096)
    except OSError:  # EIO: every process closed the terminal
        break
    if not chunk:
        break
    shown += chunk
_, status = os.waitpid(pid, 0)
with open(out, "wb") as f:
    f.write(shown.replace(b"\r\n", b"\n"))
sys.exit(os.waitstatus_to_exitcode(status))
