"""Re-diagnose saved generated-suite profiles with the rules on PYTHONPATH (main's src for
the old rules, the cachefit worktree's for the new), with the candidate sources exactly as
diagnosis_accuracy.py reads them (the generated files, written afresh to a temp dir).

    PYTHONPATH=RULES_SRC python rediag.py PROFILE_DIR SPLIT > OUT.json
"""

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "diagnosis"))
import generate_cpu  # noqa: E402

import pragma_kernels  # noqa: E402
from pragma_kernels.diagnosis import rules  # noqa: E402
from pragma_kernels.profilers.schema import Profile  # noqa: E402


def main() -> None:
    profiles, split = Path(sys.argv[1]), sys.argv[2]
    out = Path(tempfile.mkdtemp())
    cases = [c for c in generate_cpu.write(out) if c.split == split]
    rows = []
    for case in cases:
        result = {}
        for which, path in (
            ("planted", out / f"{case.name}.py"),
            ("fixed", out / f"fixed_{case.operator}.py"),
        ):
            profile = Profile.model_validate_json(
                (profiles / f"{case.name}_{which}.json").read_text()
            )
            d = rules.diagnose(profile, rules.CPP_RULES, None, path.read_text())
            alternatives = [(a.bottleneck.value, round(a.score, 3)) for a in d.alternatives]
            result[which] = (d.bottleneck.value, d.confidence, alternatives)
        rows.append({"name": case.name, "label": case.label, **result})
    print(
        json.dumps(
            {
                "rules": pragma_kernels.__file__,
                "split": split,
                "profiles": str(profiles),
                "hits": sum(r["planted"][0] == r["label"] for r in rows),
                "twins_clean": sum(r["fixed"][0] != r["label"] for r in rows),
                "n": len(rows),
                "rows": rows,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
