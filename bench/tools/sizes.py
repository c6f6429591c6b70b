#!/usr/bin/env python3
"""File and function sizes of the non-test Rust code (issue: no file over
~600 lines, no function over ~120). Usage: bench/tools/sizes.py [--limit-file N] [--limit-fn N]"""
import pathlib, re, sys

root = pathlib.Path(__file__).resolve().parents[2]
limit_file = int(sys.argv[sys.argv.index("--limit-file") + 1]) if "--limit-file" in sys.argv else 600
limit_fn = int(sys.argv[sys.argv.index("--limit-fn") + 1]) if "--limit-fn" in sys.argv else 120

def code_lines(text):
    """Lines outside `#[cfg(test)] mod … { … }`."""
    lines = text.split("\n")
    out, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "#[cfg(test)]" and i + 1 < len(lines) and re.match(r"\s*mod \w+ \{", lines[i + 1]):
            depth = 0
            j = i + 1
            while j < len(lines):
                depth += lines[j].count("{") - lines[j].count("}")
                j += 1
                if depth == 0:
                    break
            i = j
            continue
        out.append(lines[i])
        i += 1
    return out

def braces(line):
    """`{` minus `}` outside string and char literals and comments."""
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])'", "''", line)
    line = line.split("//")[0]
    return line.count("{") - line.count("}"), "{" in line

def functions(lines):
    for i, line in enumerate(lines):
        m = re.match(r"\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?fn (\w+)", line)
        if not m or line.rstrip().endswith(";"):
            continue
        depth, started, j = 0, False, i
        while j < len(lines):
            d, opens = braces(lines[j])
            depth += d
            started = started or opens
            if started and depth <= 0:
                break
            j += 1
        yield m.group(5), i + 1, j - i + 1

files = sorted(p for p in list((root / "crates").glob("*/src/**/*.rs")) + list((root / "src").glob("**/*.rs")))
worst_file, worst_fn, over = (0, ""), (0, ""), 0
for p in files:
    lines = code_lines(p.read_text())
    rel = p.relative_to(root)
    if len(lines) > worst_file[0]:
        worst_file = (len(lines), str(rel))
    if len(lines) > limit_file:
        print(f"file {rel}: {len(lines)} lines"); over += 1
    for name, at, n in functions(lines):
        if n > worst_fn[0]:
            worst_fn = (n, f"{rel}:{at} {name}")
        if n > limit_fn:
            print(f"fn {rel}:{at} {name}: {n} lines"); over += 1
print(f"largest file: {worst_file[1]} ({worst_file[0]} lines); longest function: {worst_fn[1]} ({worst_fn[0]} lines); {over} over the limits")
