"""Candidate code out of LLM replies (pure)."""

import pytest

from pragma_kernels.agents.extract import code_blocks, extract_candidate

FILE = "import torch\n\n\nclass ModelNew(torch.nn.Module):\n    pass\n"


@pytest.mark.parametrize(
    "reply",
    [
        f"Here is the kernel:\n```python\n{FILE}```\nIt fuses the passes.",
        f"```py\n{FILE}```",
        f"```\n{FILE}```",
        f"~~~python\n{FILE}~~~",
        FILE,  # bare code
        f"Draft:\n```python\nclass Helper: pass\n```\nFinal:\n```python\n{FILE}```",
        f'```cpp\nextern "C" void f();\n```\n```python\n{FILE}```',
        f"```python\n{FILE}",  # truncated: the closing fence never came
    ],
)
def test_the_file_defining_model_new_is_found(reply):
    assert extract_candidate(reply) == FILE


def test_last_complete_definition_wins_when_several_define_model_new():
    second = FILE.replace("pass", "x = 2")
    assert extract_candidate(f"```python\n{FILE}```\nBetter:\n```python\n{second}```") == second


@pytest.mark.parametrize(
    "reply",
    [
        "I cannot help with that.",
        "```python\nprint('no model')\n```",
        "```cpp\nclass ModelNew {};\n```",  # not Python
        "class ModelNew(  # broken, unfenced",
    ],
)
def test_no_usable_code_gives_none(reply):
    assert extract_candidate(reply) is None


def test_blocks_keep_their_language_tags():
    assert [tag for tag, _ in code_blocks("```CPP\na\n```\n```python\nb\n```")] == ["cpp", "python"]
