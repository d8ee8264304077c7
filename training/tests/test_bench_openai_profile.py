from training import bench_openai_profile, export, import_openai, openai_format
from training.compact import compact_gpt


def test_profile_names_every_abstopk_location(tmp_path):
    """A profiled window of a converted fixture's compacted graph puts each AbsTopK node under the location it
    selects at, for 8 and for 4 AbsTopK locations, and its parts add up to the kernel time."""
    for name in ("sink_bigram_8sites", "plain_4sites_tied"):
        gpt, _ = import_openai.load_model(openai_format.write_model(tmp_path / name, openai_format.FIXTURES[name], seed=2))
        path = tmp_path / f"{name}.onnx"
        export.export_onnx(compact_gpt(gpt), path, bigram_fp16=False)
        report = bench_openai_profile.profile_window(path, gpt.cfg, 24, threads=1, runs=1, prefix=tmp_path / name)
        topk = {p.removeprefix("h.L TopK ") for p in report["by_part"] if p.startswith("h.L TopK ")}
        assert topk == set(gpt.cfg.topk_sites) and len(topk) == (8 if name == "sink_bigram_8sites" else 4)
        assert abs(sum(report["by_part"].values()) - report["kernels_ms"]) < 0.1 * len(report["by_part"])
