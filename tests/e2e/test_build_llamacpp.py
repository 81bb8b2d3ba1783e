"""scripts/build-llamacpp picks a reference build that runs on this machine: a native build
that dies with SIGILL (a VM that hides AMX the CPU flags report) falls back to AVX-512, then
to AVX2, and remembers it. The builds here are fakes (tools that run or die by SIGILL), so
the test checks the choice, not the compiler."""
import os
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build-llamacpp"
VERSION = "0.3.36"
TOOLS = ["llama-cli", "llama-simple", "llama-tokenize", "llama-perplexity", "llama-bench",
         "llama-server"]


def fake_build(cache, variant, dies, log):
    build = cache / "llamacpp" / f"build-{VERSION}-{variant}"
    bin_dir = build / "bin"
    bin_dir.mkdir(parents=True)
    (build / ".turbine-built").write_text(f"variant {variant}\nflags -DFAKE={variant}\n")
    (bin_dir / "libllama.so").write_text("")
    body = f'echo "{variant} $(basename "$0")" >> "{log}"\n' + ('kill -ILL $$\n' if dies else "exit 0\n")
    for t in TOOLS:
        p = bin_dir / t
        p.write_text("#!/bin/bash\n" + body)
        p.chmod(0o755)
    return bin_dir


def run(cache):
    env = dict(os.environ, TURBINE_CACHE=str(cache), TURBINE_PROBE_MODEL="/nonexistent",
               LLAMACPP_NATIVE="ON")
    return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True,
                          timeout=60)


def test_a_native_build_that_runs_is_used(tmp_path):
    log = tmp_path / "ran.log"
    native = fake_build(tmp_path, "nativeON", dies=False, log=log)
    r = run(tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == str(native)
    assert "SIGILL" not in r.stderr


def test_sigill_falls_back_to_avx2_and_is_remembered(tmp_path):
    log = tmp_path / "ran.log"
    fake_build(tmp_path, "nativeON", dies=True, log=log)
    fake_build(tmp_path, "avx512", dies=True, log=log)
    avx2 = fake_build(tmp_path, "avx2", dies=False, log=log)
    r = run(tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == str(avx2)
    assert "the nativeON build dies with SIGILL" in r.stderr
    assert "using the avx2 build: -DFAKE=avx2" in r.stderr
    assert (tmp_path / "llamacpp" / f"build-{VERSION}-nativeON" / ".turbine-sigill").exists()
    # The second run neither probes the dead builds nor the chosen one again.
    log.write_text("")
    r = run(tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == str(avx2)
    assert log.read_text() == ""


def test_every_build_dying_is_an_error(tmp_path):
    log = tmp_path / "ran.log"
    for v in ("nativeON", "avx512", "avx2"):
        fake_build(tmp_path, v, dies=True, log=log)
    r = run(tmp_path)
    assert r.returncode == 1
    assert "no llama.cpp build runs on this machine" in r.stderr
    assert r.stdout == ""
