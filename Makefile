# Every target sets up what it needs itself (scripts/bootstrap.sh creates .venv on first use).
# Where make is missing, run the scripts directly: bash scripts/test.sh, bash scripts/demo.sh.
.PHONY: setup test test-fast demo images bench clean

setup:
	bash scripts/bootstrap.sh

test:
	bash scripts/test.sh

test-fast:
	bash scripts/test.sh -m "not slow and not image_tests"

demo:
	bash scripts/demo.sh

images:
	bash scripts/images.sh

bench:
	bash scripts/bench.sh

clean:
	rm -rf .venv .demo .bench
