#!/usr/bin/env python3
"""Writes the output of `./dev.sh bench` into README.md between the bench markers, with the
machine and commit it ran on. Usage: readme.py README.md DIR (DIR holds one NAME.txt per bench)."""
import datetime
import os
import platform
import subprocess
import sys

START, END = "<!-- bench:start -->", "<!-- bench:end -->"
SECTIONS = [
    ("wasm-size", "The site a browser downloads (release build, wasm-opt)"),
    ("cold-start", "Cold start and idle memory (release binary, embedded SQLite, built-in broker)"),
    ("catalog_ssr", "Catalog page server-side rendering under load (`--bench catalog_ssr`)"),
    ("controller", "Store and controller (`--bench controller`)"),
    ("osb", "The built-in broker and the OSB client (`--bench osb`)"),
    ("live_and_list", "Live-status fan-out and the instances list with 10,000 instances (`--bench live_and_list`)"),
    ("load", "100 signed-in people at once for 10 minutes (`--test load_soak`, long mode)"),
]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(l.split()[1] for l in f if l.startswith("MemTotal")))
            mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores ({cpu}){mem}, {platform.system()} {platform.release()}"


def main() -> None:
    readme, folder = sys.argv[1], sys.argv[2]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [START, "", f"Last run: {when}, commit `{commit}`, on {machine()}.", ""]
    for name, title in SECTIONS:
        path = os.path.join(folder, f"{name}.txt")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            text = f.read().strip("\n")
        parts += [f"#### {title}", "", "```text", text, "```", ""]
    parts.append(END)
    with open(readme) as f:
        content = f.read()
    if START in content and END in content:
        before, rest = content.split(START, 1)
        after = rest.split(END, 1)[1]
        content = before + "\n".join(parts) + after
    else:
        content = content.rstrip("\n") + "\n\n" + "\n".join(parts) + "\n"
    with open(readme, "w") as f:
        f.write(content)


if __name__ == "__main__":
    main()
