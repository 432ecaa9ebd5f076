"""Build a Hugging Face style CLIP tokenizer folder from OpenAI's BPE file.

One-off script. The BPE vocabulary that CLIP (and so Stable Diffusion) uses
ships inside the open_clip_torch wheel as `bpe_simple_vocab_16e6.txt.gz`. We
download the wheel *without installing it* (installing would pull a huge CUDA
torch), read the file out of the zip and write the four small files that
`transformers.CLIPTokenizer.from_pretrained(folder)` expects.

    python tools/make_tokenizer.py pare/models/tiny-sd1/tokenizer --pad "<|endoftext|>"
    python tools/make_tokenizer.py pare/models/tiny-sd2/tokenizer --pad "!"

SD1 pads prompts with <|endoftext|> (id 49407); SD2's OpenCLIP tokenizer pads
with "!" (id 0).
"""

import argparse
import glob
import gzip
import json
import os
import subprocess
import sys
import tempfile
import zipfile

BPE_PATH_IN_WHEEL = "open_clip/bpe_simple_vocab_16e6.txt.gz"
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
# CLIP keeps the first 49152 - 256 - 2 merges, so that
# 256 bytes + 256 bytes</w> + merges + 2 specials = 49408 tokens.
N_MERGES = 49152 - 256 - 2


def byte_to_unicode() -> dict[int, str]:
    """Map each of the 256 byte values to a printable unicode character.

    Byte-level BPE works on strings, so every byte needs a visible stand-in.
    Printable Latin-1 bytes stand for themselves; the rest (control chars,
    space, ...) are moved up to code points 256, 257, ... in byte order.
    The dict's order (printable bytes first) defines token ids 0..255.
    """
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    )
    mapping = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


def fetch_bpe_lines() -> list[str]:
    """Download the open_clip_torch wheel (no deps, no install) and read the BPE file."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary",
                ":all:",
                "open_clip_torch",
                "-d",
                tmp,
            ],
            check=True,
        )
        (wheel,) = glob.glob(os.path.join(tmp, "open_clip_torch-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            raw = zf.read(BPE_PATH_IN_WHEEL)
    return gzip.decompress(raw).decode("utf-8").split("\n")


def build(lines: list[str]) -> tuple[dict[str, int], list[str]]:
    # Line 0 is a "#version" header; the next N_MERGES lines are "a b" merges.
    merges = lines[1 : 1 + N_MERGES]
    assert len(merges) == N_MERGES, len(merges)
    chars = list(byte_to_unicode().values())
    tokens = chars + [c + "</w>" for c in chars]  # single bytes, then word-final bytes
    tokens += ["".join(m.split()) for m in merges]  # each merge adds the merged token
    tokens += [BOS, EOS]
    vocab = {t: i for i, t in enumerate(tokens)}
    assert len(vocab) == 49408, len(vocab)  # no duplicates
    return vocab, merges


def write_folder(folder: str, vocab: dict[str, int], merges: list[str], pad: str) -> None:
    os.makedirs(folder, exist_ok=True)
    assert pad in vocab, f"pad token {pad!r} is not in the vocabulary"

    def dump(name, obj, **kw):
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, **kw)
            f.write("\n")

    dump("vocab.json", vocab, separators=(",", ":"))  # compact: ~0.8 MB
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
    specials = {"bos_token": BOS, "eos_token": EOS, "unk_token": EOS, "pad_token": pad}
    dump("special_tokens_map.json", specials, indent=2)
    dump(
        "tokenizer_config.json",
        {
            "tokenizer_class": "CLIPTokenizer",
            "model_max_length": 77,
            "do_lower_case": True,
            "errors": "replace",
            "add_prefix_space": False,
            "clean_up_tokenization_spaces": False,
            **specials,
        },
        indent=2,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder", help="output folder, e.g. pare/models/tiny-sd1/tokenizer")
    ap.add_argument("--pad", default=EOS, help='padding token: "<|endoftext|>" (SD1, default) or "!" (SD2)')
    args = ap.parse_args()
    vocab, merges = build(fetch_bpe_lines())
    write_folder(args.folder, vocab, merges, args.pad)
    print(f"wrote {args.folder}: {len(vocab)} tokens, {len(merges)} merges, pad {args.pad!r}")


if __name__ == "__main__":
    main()
