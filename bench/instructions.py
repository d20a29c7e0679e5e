"""Instructions per document, counted by valgrind: a figure that the machine's load and speed do not move.

On a shared machine the documents/s of ``bench/scale.py`` drift by a third within minutes, and the
ratio of two cases by a tenth, more than many a change is worth. Here each case of ``scale.py``
runs under ``valgrind --tool=callgrind`` at two sizes; the difference of the two instruction
counts over the difference of the sizes is what one document costs, start-up (imports, botocore's
model of Q Business, plugin discovery) cancelled out. The same code and inputs give the same count
to within a fraction of a percent, whatever else the machine does.

Instructions are not time: a system call's kernel work is not counted, nor a cache miss's wait.
The floor (open, read and SHA-256 a file: mostly system calls and hashing) is printed, but its
share is not the one of ``scale.py``; the ratio of ccf to the reference builder kit, both Python
over the same files and client, is the figure to compare before and after a change.

Cases: ``floor``; ``ccf_first_sync_plain_stub`` (the Q Business destination with the plain stand-in
client, SQLite state); ``ccf_first_sync_plain_stub_upload_process`` (the same with the upload
pipeline in a second process: the engine's process and the worker are counted apart, and the
one with more to do sets the pace); ``ccf_unchanged_without_versions`` (a re-sync that reads and hashes every
file; its first sync runs outside valgrind); with ``--reference DIR`` (the builder kit's ``src``
folder) ``reference_first_sync_plain_stub``.

Usage: python bench/instructions.py [--sizes 500,1500] [--reference DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCALE = ROOT / "bench" / "scale.py"
_SUMMARY = re.compile(r"^(?:summary|totals):\s*(\d+)", re.MULTILINE)
_COMMAND = re.compile(r"^cmd:\s*(.*)$", re.MULTILINE)


def counted(arguments: list[str], work: Path) -> dict[str, int]:
    """The instructions ``python scale.py --case ARGUMENTS`` executes under callgrind: the engine's
    process, and its upload worker when it has one (multiprocessing's resource tracker is left out)."""
    for old in work.glob("callgrind.*.out"):
        old.unlink()
    command = [
        "valgrind",
        "--tool=callgrind",
        "--trace-children=yes",
        f"--callgrind-out-file={work / 'callgrind.%p.out'}",
        sys.executable,
        "-P",
        str(SCALE),
        "--case",
        *arguments,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    counts: dict[str, int] = {}
    for output in work.glob("callgrind.*.out"):
        text = output.read_text(errors="replace")
        found, command_line = _SUMMARY.search(text), _COMMAND.search(text)
        if found is None or command_line is None:
            continue
        if str(SCALE) in command_line.group(1):
            counts["engine"] = int(found.group(1))
        elif "spawn_main" in command_line.group(1):
            counts["worker"] = int(found.group(1))
    if result.returncode != 0 or "engine" not in counts:
        failed = " ".join(arguments)
        raise SystemExit(f"{failed} failed under valgrind:\n{result.stdout}\n{result.stderr[-2000:]}")
    return counts


def native(arguments: list[str]) -> None:
    """Run a case without valgrind (the first sync an unchanged case starts from)."""
    subprocess.run([sys.executable, "-P", str(SCALE), "--case", *arguments], capture_output=True, check=True)


def per_document(
    case: str, sizes: tuple[int, int], folder: Path, work: Path, reference: Path | None
) -> dict[str, int]:
    """Instructions of one more document of ``case``, from its counts at the two sizes, by process."""
    counts = []
    for size in sizes:
        state = work / f"{case}-{size}.db"
        if case == "floor":
            arguments = ["floor", str(folder), str(size)]
        elif case == "reference_first_sync_plain_stub":
            assert reference is not None
            arguments = ["reference", str(reference), str(folder), str(size), "plain"]
        elif case == "ccf_unchanged_without_versions":
            arguments = ["ccf", str(folder), str(state), str(size), case, "none", "plain"]
            native(arguments)
        elif case == "ccf_first_sync_plain_stub_upload_process":
            arguments = ["ccf", str(folder), str(state), str(size), case, "file", "plain", "process"]
        else:
            arguments = ["ccf", str(folder), str(state), str(size), case, "file", "plain"]
        counts.append(counted(arguments, work))
    return {
        role: round((counts[1][role] - counts[0].get(role, 0)) / (sizes[1] - sizes[0])) for role in counts[1]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="500,1500", help="the two document counts (default 500,1500)")
    parser.add_argument("--reference", type=Path, help="the reference builder kit's src folder")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        missing = "instructions: valgrind is not installed (Debian: apt-get install valgrind)"
        print(json.dumps({"skipped": missing}))
        return
    small, large = (int(part) for part in args.sizes.split(","))
    if not 0 < small < large:
        parser.error("--sizes takes two counts, the first smaller: 500,1500")
    sys.path.insert(0, str(ROOT / "bench"))
    from scale import write_files

    cases = [
        "floor",
        "ccf_first_sync_plain_stub",
        "ccf_first_sync_plain_stub_upload_process",
        "ccf_unchanged_without_versions",
    ]
    if args.reference is not None:
        cases.append("reference_first_sync_plain_stub")
    figures: dict[str, dict[str, int]] = {}
    with tempfile.TemporaryDirectory(prefix="ccf-instructions-") as tmp:
        work = Path(tmp)
        folder = work / "files"
        write_files(folder, large)
        for case in cases:
            figures[case] = per_document(case, (small, large), folder, work, args.reference)
            by_process = figures[case]
            line: dict[str, object] = {"case": case, "instructions_per_document": by_process["engine"]}
            if "worker" in by_process:
                line["worker_instructions_per_document"] = by_process["worker"]
            print(json.dumps(line), flush=True)
    summary: dict[str, object] = {"summary": "instructions", "sizes": [small, large]}
    if "reference_first_sync_plain_stub" in figures:
        reference_count = figures["reference_first_sync_plain_stub"]["engine"]
        for case in ("ccf_first_sync_plain_stub", "ccf_first_sync_plain_stub_upload_process"):
            # With the upload process, the engine's process is the one that sets the pace here.
            summary[f"reference_vs_{case}"] = round(reference_count / figures[case]["engine"], 2)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
