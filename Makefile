# The two commands of the README: `make run` and `make test`. Both install what is missing first.
SHELL := /bin/bash
PHAROS := ./build/release/src/app/pharos
# Let ccache share results between clones and build directories of the same sources.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

.PHONY: all setup build run test test-release test-asan bench fuzz format clean

all: build

setup:
	@./scripts/setup.sh

build: setup
	@cmake --preset release >/dev/null
	@cmake --build --preset release

run: build
	$(PHAROS) serve

# Unit, integration, fuzz-corpus and compatibility tests on the release build, then the unit and
# integration tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
test: test-release test-asan

test-release: build
	ctest --preset release

test-asan: setup
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan
	ctest --preset asan

bench: build
	./bench/run.sh

# libFuzzer under clang; FUZZ_SECONDS per target (default 60).
fuzz: setup
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz
	./fuzz/run.sh build/fuzz

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf build
