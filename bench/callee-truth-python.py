"""Truth for bench-callees on a Python repository: Jedi's go-to-definition for every call in every function.

usage: python3 bench/callee-truth-python.py <repo dir> [source folder, default src] > truth.json
       node dist/bench/bench-callees.js <repo dir> <source folder> --truth truth.json

Writes {"<path>:<0-based line of the function's name>": {"<called name>": ["<path of its definition>", ...]}}, the
shape bench-callees.ts builds from the TypeScript checker. Calls of parameters and local variables are left out (they
call no definition of the repository), as are calls Jedi resolves outside the repository (the standard library,
installed packages) or cannot resolve. Needs `jedi` (pip install jedi).
"""
import ast
import json
import os
import sys

import jedi

repo = os.path.abspath(sys.argv[1])
sub = sys.argv[2] if len(sys.argv) > 2 else "src"
project = jedi.Project(repo, added_sys_path=[os.path.join(repo, sub), repo], smart_sys_path=False)


def rel(path):
    return os.path.relpath(path, repo).replace(os.sep, "/")


def own(path):
    r = rel(path)
    return not r.startswith("../") and "site-packages/" not in r


truth = {}
for folder, dirs, files in os.walk(os.path.join(repo, sub)):
    dirs[:] = [d for d in dirs if d not in ("node_modules", "__pycache__", ".git")]
    for name in files:
        if not name.endswith(".py"):
            continue
        path = os.path.join(folder, name)
        source = open(path, encoding="utf-8", errors="replace").read()
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        script = jedi.Script(source, path=path, project=project)
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            # The name's line: `def` is on fn.lineno (decorators come before it).
            called = truth.setdefault(f"{rel(path)}:{fn.lineno - 1}", {})
            for node in ast.walk(fn):
                if not isinstance(node, ast.Call):
                    continue
                target = node.func
                if isinstance(target, ast.Attribute):
                    callee, line, column = target.attr, target.end_lineno, target.end_col_offset - len(target.attr)
                elif isinstance(target, ast.Name):
                    callee, line, column = target.id, target.lineno, target.col_offset
                else:
                    continue
                try:
                    found = script.goto(line, column, follow_imports=True)
                except Exception:
                    continue
                for d in found:
                    if d.module_path is None or not own(str(d.module_path)) or d.type in ("param", "statement") and d.parent().type == "function":
                        continue
                    called.setdefault(callee, [])
                    if rel(str(d.module_path)) not in called[callee]:
                        called[callee].append(rel(str(d.module_path)))
json.dump(truth, sys.stdout)
