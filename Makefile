# arpd: a user-space ARP helper daemon. See README.md.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

# One static binary, no cgo, reproducible paths.
export CGO_ENABLED := 0

.PHONY: all build test vet fmt-check bench fuzz clean demo labbench

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

# The demo: as root, a lab of two network namespaces with 5,000 hosts, this
# arpd as the resolver (-a 3 -k), traffic to every host, the kernel table
# flushed, traffic again, and a report. It leaves nothing behind.
demo:
	@if [ "$$(id -u)" != 0 ]; then \
		echo "make demo needs root: it makes network namespaces, a veth pair and 5,000 addresses, and runs arpd in them (sudo make demo)" >&2; \
		exit 1; \
	fi
	@$(MAKE) --no-print-directory build
	ARPD_DEMO=1 ARPD_BIN=$(CURDIR)/arpd $(GO) test -run '^TestDemo$$' -count=1 -timeout 15m -v .

# The lab benchmark: turnaround, retries, failures, CPU and peak RSS of this
# arpd beside iproute2's (/usr/sbin/arpd), one request at a time and in a
# burst of 20,000 (as root).
labbench:
	@if [ "$$(id -u)" != 0 ]; then \
		echo "make labbench needs root: it makes network namespaces and runs both daemons in them (sudo make labbench)" >&2; \
		exit 1; \
	fi
	@$(MAKE) --no-print-directory build
	ARPD_LABBENCH=1 ARPD_BIN=$(CURDIR)/arpd $(GO) test -run '^TestLabBench$$' -count=1 -timeout 20m -v .

clean:
	rm -f arpd
	rm -rf dist
