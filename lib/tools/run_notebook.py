#!/usr/bin/python3
"""Executes one Jupyter notebook headless on the project's Deno kernel, keeping every output.

Called by `deno task notebooks` (lib/cli/notebooks.ts), which sets JUPYTER_PATH to the
project's kernelspec and PATH to the project's Deno. Uses Debian's jupyter_client and nbformat.

Why not `jupyter nbconvert --execute`: Deno's kernel sometimes sends a cell's result *after*
the kernel's idle message for that cell, and nbclient then drops it. Here every IOPub message
is routed to its cell by the id of the request that caused it, whenever it arrives, and the
run ends with a sentinel request and a quiet period so that late outputs of the last cell are
kept too.

With RUN_NOTEBOOK_TRACE=FILE set, every request sent and every IOPub message received is
appended to FILE as one JSON line (for diagnosing a kernel that loses or misroutes outputs).

Usage: run_notebook.py NOTEBOOK [--out FILE] [--param NAME=JSON ...] [--timeout SECONDS]
Exit status 0 on success; 1 when a cell fails (its cell number and error are printed, and the
notebook is saved with the outputs up to and including the error); 2 on bad usage.
"""
import argparse
import json
import os
import queue
import re
import sys
import tempfile
import time

import nbformat
from jupyter_client.manager import KernelManager

TRACE = open(os.environ["RUN_NOTEBOOK_TRACE"], "a") if os.environ.get("RUN_NOTEBOOK_TRACE") else None
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")
NAME = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$")


def strip_ansi(text):
    return ANSI.sub("", text)


def parse_params(items):
    """`name=value` pairs; value parsed as JSON when it parses, else taken as a string."""
    out = []
    for item in items:
        if "=" not in item:
            raise SystemExit(f"--param {item!r}: expected NAME=VALUE, e.g. config.seed=3")
        name, raw = item.split("=", 1)
        name = name.strip()
        if not NAME.match(name):
            raise SystemExit(f"--param {item!r}: {name!r} is not a JavaScript name or dotted path")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.append((name, json.dumps(value)))
    return out


PARAM_MARK = "// Set by the notebook runner (--param), over the values above:"


def inject_params(nb, params, path):
    """Writes `params` into the cell tagged `parameters`, below its own values.

    The runner never adds a cell: a reader who edits the config cell and runs all gets what the
    cell says. Earlier runners' `injected-parameters` cells and lines are removed first, so a run
    without `--param` leaves the config cell as its author wrote it.
    """
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    for c in tagged:
        src = c.source if isinstance(c.source, str) else "".join(c.source)
        if PARAM_MARK in src:
            c.source = src[:src.index(PARAM_MARK)].rstrip("\n")
    if not params:
        return
    if not tagged:
        raise SystemExit(f"{path}: --param given but no cell is tagged 'parameters'; tag the config cell")
    cell = tagged[0]
    lines = "\n".join(f"{n} = {v};" for n, v in params)
    cell.source = f"{cell.source.rstrip()}\n{PARAM_MARK}\n{lines}"


class Router:
    """Turns IOPub messages into nbformat outputs of the cell whose request caused them."""

    def __init__(self):
        self.cells = {}  # msg_id -> cell
        self.idle = set()
        self.displays = {}  # display_id -> outputs shown with it (updated in place)
        self.by_count = {}  # execution_count -> cell (known once the cell's reply arrived)

    def route(self, msg):
        parent = msg.get("parent_header", {}).get("msg_id")
        kind = msg["msg_type"]
        content = msg["content"]
        if TRACE:
            TRACE.write(json.dumps({"t": time.time(), "kind": kind, "parent": parent,
                                    "content": content}, default=str) + "\n")
        if kind == "status":
            if content.get("execution_state") == "idle":
                self.idle.add(parent)
            return
        if kind == "update_display_data":
            # a live display (a progress bar): the saved notebook keeps its last state
            did = content.get("transient", {}).get("display_id")
            data = dict(content.get("data", {}))
            if "text/plain" in data:
                data["text/plain"] = strip_ansi(data["text/plain"])
            for out in self.displays.get(did, []):
                out["data"] = data
                out["metadata"] = content.get("metadata", {})
            return
        cell = self.cells.get(parent)
        if kind == "execute_result":
            # A result is its request's by execution count, whatever parent header it carries
            # (a late result may be stamped with the next request's header).
            cell = self.by_count.get(content.get("execution_count"), cell)
        if cell is None:
            return
        outs = cell.outputs
        if kind == "stream":
            text = strip_ansi(content.get("text", ""))
            if outs and outs[-1].get("output_type") == "stream" and outs[-1].get("name") == content["name"]:
                outs[-1]["text"] += text
            else:
                outs.append(nbformat.v4.new_output("stream", name=content["name"], text=text))
        elif kind in ("display_data", "execute_result"):
            data = dict(content.get("data", {}))
            if "text/plain" in data:
                data["text/plain"] = strip_ansi(data["text/plain"])
            kw = {"data": data, "metadata": content.get("metadata", {})}
            if kind == "execute_result":
                kw["execution_count"] = content.get("execution_count")
            out = nbformat.v4.new_output(kind, **kw)
            outs.append(out)
            did = content.get("transient", {}).get("display_id")
            if did:
                self.displays.setdefault(did, []).append(out)
        elif kind == "error":
            outs.append(nbformat.v4.new_output(
                "error", ename=content.get("ename", "Error"), evalue=strip_ansi(content.get("evalue", "")),
                traceback=[strip_ansi(t) for t in content.get("traceback", [])]))
        elif kind == "clear_output":
            del outs[:]


def drain(kc, router, seconds):
    """Routes IOPub messages for `seconds`; returns how many arrived."""
    end = time.time() + seconds
    n = 0
    while True:
        left = end - time.time()
        if left <= 0:
            return n
        try:
            msg = kc.get_iopub_msg(timeout=min(left, 0.05))
        except queue.Empty:
            continue
        router.route(msg)
        n += 1


def execute(kc, router, code, timeout, cell=None, silent=False):
    """Sends one execute request and waits for its reply and its idle status; returns the reply."""
    msg_id = kc.execute(code, silent=silent, store_history=not silent, allow_stdin=False)
    if TRACE:
        TRACE.write(json.dumps({"t": time.time(), "kind": "SENT", "msg_id": msg_id, "code": code}) + "\n")
    if cell is not None:
        router.cells[msg_id] = cell
    reply = None
    deadline = time.time() + timeout
    while reply is None or msg_id not in router.idle:
        if time.time() > deadline:
            raise TimeoutError(f"no result after {timeout:.0f} s")
        try:
            msg = kc.get_iopub_msg(timeout=0.02)
            router.route(msg)
        except queue.Empty:
            pass
        if reply is None:
            try:
                m = kc.get_shell_msg(timeout=0.02)
                if m.get("parent_header", {}).get("msg_id") == msg_id:
                    reply = m
            except queue.Empty:
                pass
    return reply


def save(nb, path):
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".ipynb", dir=folder)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        nbformat.write(nb, f)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("notebook")
    ap.add_argument("--out", help="write the executed notebook here instead of in place")
    ap.add_argument("--param", action="append", default=[],
                    help="NAME=JSON, written into the 'parameters' cell below its own values")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds allowed per cell")
    ap.add_argument("--kernel", default="deno")
    args = ap.parse_args()

    path = args.notebook
    out = args.out or path
    if not os.path.isfile(path):
        print(f"{path}: no such notebook", file=sys.stderr)
        return 2
    nb = nbformat.read(path, as_version=4)
    if nb.nbformat_minor < 5:  # cell ids came with nbformat 4.5: a 4.4 notebook must carry none
        for cell in nb.cells:
            cell.pop("id", None)
    inject_params(nb, parse_params(args.param), path)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    km = KernelManager(kernel_name=args.kernel)
    km.start_kernel(cwd=os.path.dirname(os.path.abspath(path)) or ".")
    kc = km.client()
    kc.start_channels()
    router = Router()
    failed = None
    t_all = time.time()
    try:
        kc.wait_for_ready(timeout=120)
        for i, cell in enumerate(code_cells, 1):
            cell.outputs = []
            cell.execution_count = None
            t0 = time.time()
            try:
                reply = execute(kc, router, cell.source, args.timeout, cell=cell)
            except TimeoutError as e:
                failed = (i, cell, "Timeout", str(e))
                break
            if not km.is_alive():
                failed = (i, cell, "KernelDied", "the Deno kernel died")
                break
            content = reply["content"]
            cell.execution_count = content.get("execution_count")
            if cell.execution_count is not None:
                router.by_count[cell.execution_count] = cell
            print(f"  [{i}/{len(code_cells)}] {time.time() - t0:6.1f} s", file=sys.stderr, flush=True)
            if content.get("status") == "error":
                failed = (i, cell, content.get("ename", "Error"), strip_ansi(content.get("evalue", "")))
                break
        # Late outputs of the last cell: a sentinel request, then a quiet period.
        if km.is_alive():
            try:
                execute(kc, router, "", 60, silent=True)
            except TimeoutError:
                pass
            drain(kc, router, 0.3)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        nb.metadata.setdefault("kernelspec", {"name": "deno", "display_name": "Deno", "language": "typescript"})
        save(nb, out)
    if failed:
        i, cell, ename, evalue = failed
        first = cell.source.strip().splitlines()[:3]
        print(f"{path}: cell {i} failed: {ename}: {evalue}", file=sys.stderr)
        for line in first:
            print(f"    | {line}", file=sys.stderr)
        for o in cell.outputs:
            if o.get("output_type") == "error":
                print("\n".join(o.get("traceback", [])), file=sys.stderr)
        print(f"{path}: outputs up to the failure saved to {out}", file=sys.stderr)
        return 1
    print(f"{path}: {len(code_cells)} cells ok in {time.time() - t_all:.1f} s -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
