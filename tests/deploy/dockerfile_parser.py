"""A Dockerfile parser: stages, instructions with continuation lines, and the pip commands each
stage runs, enough to check the image contract without building it."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.deploy.helpers import DOCKERFILE, DOCKERIGNORE


@dataclass
class Instruction:
    keyword: str
    value: str
    line: int

    @property
    def flags(self) -> dict[str, str]:
        out = {}
        for token in self.value.split():
            if not token.startswith("--"):
                break
            key, _, val = token[2:].partition("=")
            out[key] = val
        return out

    def is_exec_form(self) -> bool:
        try:
            parsed = json.loads(self.value)
        except json.JSONDecodeError:
            return False
        return isinstance(parsed, list) and all(isinstance(p, str) for p in parsed)


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: dict[str, Stage]

    def resolve(self, text: str) -> str:
        return re.sub(
            r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?",
            lambda m: self.global_args.get(m[1], m[0]),
            text,
        )

    def lineage(self, name: str) -> list[Stage]:
        """The stage and every stage it is built from or copies from, transitively."""
        seen: list[Stage] = []
        todo = [name]
        while todo:
            current = todo.pop()
            if current not in self.stages or any(s.name == current for s in seen):
                continue
            stage = self.stages[current]
            seen.append(stage)
            todo.append(stage.base)
            for instruction in stage.instructions:
                if instruction.keyword == "COPY" and "from" in instruction.flags:
                    todo.append(instruction.flags["from"])
                todo.extend(re.findall(r"--mount=[^ ]*\bfrom=([A-Za-z0-9_.-]+)", instruction.value))
        return seen

    def root_image(self, name: str) -> str:
        """The external image a stage is ultimately built ``FROM`` (ARG defaults resolved)."""
        current = name
        while self.stages[current].base in self.stages:
            current = self.stages[current].base
        return self.resolve(self.stages[current].base)

    def inherited(self, name: str, keyword: str) -> Instruction | None:
        """The effective instruction (USER, CMD, ...) of a stage, following FROM <stage>."""
        current: str | None = name
        while current in self.stages:
            found = self.stages[current].last(keyword)
            if found is not None:
                return found
            current = self.stages[current].base
        return None


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Join continuation lines, drop comments (keeping ``# hadolint`` and parser directives out)."""
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer.append(stripped[:-1].strip())
            continue
        buffer.append(stripped)
        yield start, " ".join(part for part in buffer if part)
        buffer = []
    if buffer:
        yield start, " ".join(buffer)


def parse_dockerfile(path: Path = DOCKERFILE) -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for number, line in logical_lines(path.read_text()):
        keyword, _, value = line.partition(" ")
        keyword = keyword.upper()
        value = value.strip()
        if keyword == "FROM":
            tokens = [t for t in value.split() if not t.startswith("--")]
            base = tokens[0]
            name = tokens[2] if len(tokens) >= 3 and tokens[1].upper() == "AS" else base
            current = Stage(name=name, base=base)
            stages[name] = current
        elif current is None:
            if keyword == "ARG":
                key, _, default = value.partition("=")
                global_args[key] = default.strip('"')
        else:
            current.instructions.append(Instruction(keyword, value, number))
    return Dockerfile(global_args, stages)


def shell_segments(command: str) -> list[list[str]]:
    """A RUN command split at ``&&``, ``||``, ``;`` and ``|`` into token lists."""
    segments = []
    for part in re.split(r"&&|\|\||;|\|", command):
        try:
            tokens = shlex.split(part)
        except ValueError:
            tokens = part.split()
        if tokens:
            segments.append(tokens)
    return segments


def pip_actions(stage: Stage) -> list[tuple[str, list[str]]]:
    """Every ``pip install`` / ``pip uninstall`` of a stage, in order, with its arguments."""
    actions = []
    for run in stage.all("RUN"):
        for tokens in shell_segments(run.value):
            words = [t for t in tokens if not t.startswith("--mount=")]
            for index, word in enumerate(words):
                if word.endswith("pip") and index + 1 < len(words):
                    verb = words[index + 1]
                    if verb in ("install", "uninstall"):
                        actions.append((verb, words[index + 2 :]))
                    break
    return actions


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
