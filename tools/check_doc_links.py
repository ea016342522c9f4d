#!/usr/bin/env python3
"""Lists DocC symbol links in the Swift sources (``name(label:…)`` and ``Type/name(label:…)``)
whose argument labels match no function, initializer or enum case of that name: links left
behind when a signature changed. Prints each with its file; exits 1 if there is any.

    python3 tools/check_doc_links.py
"""
import glob
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def labels(parameters):
    """The argument labels of a parameter list (top-level commas only; `->` is not a bracket)."""
    parts, depth, current = [], 0, ""
    text = parameters.replace("->", "  ")
    for ch in text:
        if ch in "([<{":
            depth += 1
        elif ch in ")]>}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    result = []
    for part in parts:
        part = part.strip()
        if not part:
            continue
        head = part.split(":")[0].strip().split() if ":" in part else ["_"]
        if head:
            result.append(head[0])
    return "(" + "".join(label + ":" for label in result) + ")"


def main():
    sources = {path: open(path).read() for path in glob.glob(os.path.join(ROOT, "Sources", "**", "*.swift"), recursive=True)}
    everything = "\n".join(sources.values())
    known = {}
    for match in re.finditer(r"\b(?:func\s+([A-Za-z_]\w*)|(init)|case\s+([A-Za-z_]\w*))\s*(?:<[^>{]*>)?\s*\(", everything):
        name = match.group(1) or match.group(2) or match.group(3)
        start = end = match.end()
        depth = 1
        while depth and end < len(everything):
            if everything[end] == "(":
                depth += 1
            elif everything[end] == ")":
                depth -= 1
            end += 1
        known.setdefault(name, set()).add(labels(everything[start:end - 1]))
    stale = []
    for path, text in sorted(sources.items()):
        for match in re.finditer(r"``([A-Za-z_][^`\n]*)``", text):
            last = match.group(1).split("/")[-1]
            if "(" not in last:
                continue
            name, rest = last.split("(", 1)
            signature = "(" + rest.split(")")[0] + ")"
            if signature not in known.get(name, set()):
                stale.append(f"{os.path.relpath(path, ROOT)}: ``{match.group(1)}``")
    for line in stale:
        print(line)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
