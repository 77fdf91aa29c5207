# arpd: a user-space ARP helper daemon. See README.md.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

# One static binary, no cgo, reproducible paths.
export CGO_ENABLED := 0

.PHONY: all build test vet fmt-check bench fuzz clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o arpd .

# The whole test suite. Lab tests (network namespaces, the real kernel) run
# when this is run as root and skip with a message otherwise.
test: fmt-check vet
	$(GO) test -count=1 -timeout 30m ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || ls *.go)); \
	if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi

# Go benchmarks: the cache beside a Go map, at 65,536 and 1,000,000 entries.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 30m ./...

# Each fuzz target for FUZZTIME (default 5m), one after another.
FUZZTIME ?= 5m
fuzz:
	@for f in $$($(GO) test -list '^Fuzz' . | grep '^Fuzz'); do \
		echo "== $$f ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s . || exit 1; \
	done

clean:
	rm -f arpd
	rm -rf dist
