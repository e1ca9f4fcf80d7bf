def bench_pipelines(results, sizes, log):
    results.skip("5", "pipelines", "not written yet")
