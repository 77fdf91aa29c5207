# arpd: a user-space ARP helper daemon. See README.md.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

# One static binary, no cgo, reproducible paths.
export CGO_ENABLED := 0

# NB: Go 1.27's runtime is about 130 KB smaller on mips than 1.26's, which
# is what keeps the mips binary within MIPS_BUDGET. The go command fetches
# this toolchain from the module proxy once (about 76 MB) and caches it.
# GOTOOLCHAIN=local make ... builds with whatever Go is installed.
export GOTOOLCHAIN ?= go1.27.3

.PHONY: all build test vet fmt-check bench fuzz clean demo bench-lab labbench scan-lab cross test-cross \
	install install-check uninstall test-systemd

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o arpd .

# The whole test suite. Lab tests (network namespaces, the real kernel) run
# when this is run as root and skip with a message otherwise.
test: fmt-check vet
	$(GO) test -count=1 -timeout 30m ./...
	@if command -v qemu-mips-static >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory test-cross; \
	else \
		echo "test-cross skipped: qemu-user-static is not installed (apt-get install qemu-user-static)"; \
	fi

# go vet, then go vet again with internal/fmtlite/testdata/vet/fmtlite.go
# laid over fmtlite.go: there each function hands its format to package
# fmt's, so vet's printf check checks every format string given to
# fmtlite as it does fmt's (fmtlite itself is left out of that pass: its
# tests use its internals).
FMTLITE_OVERLAY := $(CURDIR)/.vet-overlay.json
vet:
	$(GO) vet ./...
	@printf '{"Replace":{"%s":"%s"}}' '$(CURDIR)/internal/fmtlite/fmtlite.go' \
		'$(CURDIR)/internal/fmtlite/testdata/vet/fmtlite.go' > $(FMTLITE_OVERLAY)
	@set -e; trap 'rm -f $(FMTLITE_OVERLAY)' EXIT; \
		$(GO) vet -overlay=$(FMTLITE_OVERLAY) $$($(GO) list ./... | grep -v '/internal/fmtlite$$')

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || ls *.go)); \
	if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi

# Go benchmarks: the cache beside a Go map, at 65,536 and 1,000,000 entries.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 30m ./...

# Each fuzz target of every package for FUZZTIME (default 5m), one after
# another.
FUZZTIME ?= 5m
fuzz:
	@for p in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$p | grep '^Fuzz'); do \
			echo "== $$p $$f ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$p || exit 1; \
		done; \
	done

# need-root fails, saying why ($(1)), unless make runs as root.
define need-root
	@if [ "$$(id -u)" != 0 ]; then echo "make $@ needs root: $(1) (sudo make $@)" >&2; exit 1; fi
endef

# The demo: as root, a lab of two network namespaces with 5,000 hosts, this
# arpd as the resolver (-a 3 -k), traffic to every host, the kernel table
# flushed, traffic again, and a report; then the same over IPv6 with 2,000
# hosts (ARPD_DEMO_HOSTS6 to change). It leaves nothing behind.
demo:
	$(call need-root,it makes network namespaces with 5000 addresses and runs arpd in them)
	@$(MAKE) --no-print-directory build
	ARPD_DEMO=1 ARPD_BIN=$(CURDIR)/arpd $(GO) test -run '^TestDemo$$' -count=1 -timeout 15m -v ./lab

# The lab benchmark (as root): this arpd, the kernel alone (gc_thresh2/3
# raised, its own ARP) and iproute2's arpd (/usr/sbin/arpd) when
# installed, each in a lab of its own with BENCH_HOSTS hosts (default
# 20,000; several sizes, as BENCH_HOSTS='20000 200000', run one after the
# other, and the report compares them), through the phases cold, warm
# (after a link flap), one at a time, restart and flushed, then a burst
# with the kernel's default table; one table with each column's broadcasts,
# kernel memory, file pages and total memory, and this arpd's ratios to
# the others; the request-to-valid distributions in BENCH_SVG (one per
# size, with -N before .svg, for several); this arpd's startup on a
# 1,000,000-entry file. Then, over IPv6, the kernel alone and this arpd
# through cold, warm and flushed (iproute2's arpd is IPv4 only), beside
# this arpd's IPv4 figures, at the smallest size. BENCH_FAMILY picks the
# families (4, 6 or both). It raises gc_thresh2/3 of both tables for the
# run and restores them.
BENCH_HOSTS ?= 20000
BENCH_FAMILY ?= 4 6
BENCH_SVG ?= $(CURDIR)/bench-latency.svg
bench-lab:
	$(call need-root,it makes network namespaces and runs both daemons in them)
	@$(MAKE) --no-print-directory build
	ARPD_BENCHLAB=1 ARPD_BENCH_HOSTS='$(BENCH_HOSTS)' ARPD_BENCH_FAMILY='$(BENCH_FAMILY)' ARPD_BENCH_SVG='$(BENCH_SVG)' \
		ARPD_BIN=$(CURDIR)/arpd $(GO) test -run '^TestBenchLab$$' -count=1 -timeout 60m -v ./lab

# The name it had before.
labbench: bench-lab

# The scan lab (as root): a router forwarding a scan of dead addresses
# (10,000 datagrams a second for 10 s into a /16) while 200 live hosts
# behind it are each sent a datagram a second, with the kernel alone, this
# arpd (-k -a 3, its default -R/-B, plus ARPD_SCAN_FLAGS) and iproute2's
# arpd when on PATH, side by side, once per order in SCAN_ORDER (perm:
# each address once per sweep, as zmap and masscan scan; random). Over
# IPv6 (SCAN_FAMILY 6) the same into fd77::/64, random addresses only, for
# the kernel alone and this arpd (iproute2's arpd is IPv4 only). It sets
# gc_thresh1/2/3 of both tables to the kernel's defaults for the run and
# restores them. ARPD_SCAN_OUT=file also writes the tables to file.
SCAN_ORDER ?= perm random
SCAN_FAMILY ?= 4 6
scan-lab:
	$(call need-root,it makes network namespaces and runs the daemons in them)
	@$(MAKE) --no-print-directory build
	ARPD_SCANLAB=1 ARPD_SCAN_ORDER='$(SCAN_ORDER)' ARPD_SCAN_FAMILY='$(SCAN_FAMILY)' ARPD_BIN=$(CURDIR)/arpd $(GO) test -run '^TestScanLab$$' -count=1 -timeout 20m -v ./lab

# Static, stripped binaries for routers in dist/, then their sizes. Each
# entry is GOARCH[:GOARM or GOMIPS]:name. MIPS routers have no FPU, hence
# GOMIPS=softfloat; GOARM=5 is for ARMv5 without an FPU, GOARM=7 for the
# ARMv7 routers with one.
CROSS_TARGETS := amd64::amd64 arm:5:armv5 arm:7:armv7 arm64::arm64 \
	mips:softfloat:mips mipsle:softfloat:mipsle
# The largest binary that fits the flash of a small MIPS router.
MIPS_BUDGET := 2000000
# NB: Go aligns mips segments to 64 KiB in the file, so that the binary also
# runs on kernels with 16 or 64 KiB pages; the padding costs about 110 KB.
# Every 32-bit MIPS target of OpenWrt (ath79, ramips, lantiq, bmips,
# realtek, ...) runs a 4 KiB-page kernel, so the mips binaries are aligned
# to 4 KiB. On a kernel with bigger pages they would not start: build with
# MIPS_LDFLAGS= for one.
MIPS_LDFLAGS ?= -R 0x1000
# NB: no inlining inside the standard library on mips: 53 KB less, and the
# lookups, which inline the standard library's byte-order calls into arpd's
# own code, are as fast (make bench with -gcflags=std=-l); building an
# answer takes 40 ns longer, next to the 9 us the kernel spends on it.
MIPS_GCFLAGS ?= std=-l

cross:
	@mkdir -p dist
	@set -e; for t in $(CROSS_TARGETS); do \
		arch=$${t%%:*}; rest=$${t#*:}; sub=$${rest%%:*}; name=$${rest#*:}; \
		extra=; gcflags=; \
		case $$arch in \
		arm) export GOARM=$$sub ;; \
		mips|mipsle) export GOMIPS=$$sub; extra='$(MIPS_LDFLAGS)'; gcflags='$(MIPS_GCFLAGS)' ;; \
		esac; \
		echo "GOOS=linux GOARCH=$$arch$${sub:+ ($$sub)} -> dist/arpd-linux-$$name"; \
		GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags "$(LDFLAGS) $$extra" \
			$${gcflags:+-gcflags=$$gcflags} -o dist/arpd-linux-$$name . ; \
		unset GOARM GOMIPS; \
	done
	@echo
	@printf '%-24s %10s\n' binary bytes
	@for t in $(CROSS_TARGETS); do \
		f=dist/arpd-linux-$${t##*:}; \
		printf '%-24s %10d\n' $$f $$(wc -c < $$f); \
	done
	@n=$$(wc -c < dist/arpd-linux-mips); \
	if [ $$n -le $(MIPS_BUDGET) ]; then \
		echo "mips: $$n bytes, within the budget of $(MIPS_BUDGET)"; \
	else \
		echo "mips: $$n bytes, OVER the budget of $(MIPS_BUDGET) by $$((n - $(MIPS_BUDGET)))"; \
		exit 1; \
	fi

# The unit tests under qemu-user: big-endian mips, mipsle, arm (GOARM=5,
# soft float) and arm64. qemu-user does not carry rtnetlink neighbour
# messages, so ARPD_NO_LAB=1 makes the lab tests skip, saying so; -short
# trims the longest property tests, which run on emulated soft float here.
# QEMU_ARCHES picks a subset: make test-cross QEMU_ARCHES=mips
QEMU_ARCHES ?= mips mipsle arm arm64
# Tests that cannot work under qemu-user, whatever the code does:
# TestCacheMappingIsReadOnly reads /proc/self/smaps, which lists qemu's own
# host mappings rather than the guest's, and TestCacheDurabilityKill starts
# the test binary again, which the kernel cannot run without binfmt_misc.
QEMU_SKIP := ^(TestCacheMappingIsReadOnly|TestCacheDurabilityKill)$$

test-cross:
	@set -e; for a in $(QEMU_ARCHES); do \
		case $$a in \
		mips) q=mips; export GOMIPS=softfloat ;; \
		mipsle) q=mipsel; export GOMIPS=softfloat ;; \
		arm) q=arm; export GOARM=5 ;; \
		arm64) q=aarch64 ;; \
		*) echo "test-cross: unknown arch $$a"; exit 1 ;; \
		esac; \
		command -v qemu-$$q-static >/dev/null || { echo "test-cross: qemu-$$q-static not installed"; exit 1; }; \
		echo "== GOARCH=$$a under qemu-$$q-static (skipped here: $(QEMU_SKIP), see the Makefile)"; \
		start=$$(date +%s); \
		ARPD_NO_LAB=1 GOOS=linux GOARCH=$$a $(GO) test -count=1 -short \
			-skip '$(QEMU_SKIP)' -timeout 20m -exec qemu-$$q-static ./...; \
		echo "== GOARCH=$$a passed in $$(( $$(date +%s) - start )) s"; \
		unset GOARM GOMIPS; \
	done

# make install: the binary, the man page and the systemd unit, under
# PREFIX (default /usr/local) inside DESTDIR (for packaging), with the
# unit's ExecStart naming the installed binary. $(PREFIX)/lib/systemd/system
# is on systemd's unit path for /usr/local and for /usr
# (systemd-analyze unit-paths); SYSTEMDUNITDIR=/lib/systemd/system (what
# pkg-config --variable=systemdsystemunitdir systemd says on Debian 12)
# also works.
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system

install: build install-check
	install -D -m 0755 arpd '$(DESTDIR)$(SBINDIR)/arpd'
	install -D -m 0644 doc/arpd.8 '$(DESTDIR)$(MANDIR)/man8/arpd.8'
	@mkdir -p '$(DESTDIR)$(SYSTEMDUNITDIR)'
	sed 's|@SBINDIR@|$(SBINDIR)|g' contrib/systemd/arpd.service.in > '$(DESTDIR)$(SYSTEMDUNITDIR)/arpd.service.tmp'
	chmod 0644 '$(DESTDIR)$(SYSTEMDUNITDIR)/arpd.service.tmp'
	mv '$(DESTDIR)$(SYSTEMDUNITDIR)/arpd.service.tmp' '$(DESTDIR)$(SYSTEMDUNITDIR)/arpd.service'

# NB: Debian's iproute2 package installs its own arpd as /usr/sbin/arpd.
# install-check refuses to replace an arpd that is not this one: a file
# a Debian package owns (dpkg -S), or a file without this program's
# package paths in it (every build of it has them, stripped or not). It
# never runs the file it checks.
ours = grep -qa 'arpd/internal/cache' "$(1)"
install-check:
	@t='$(DESTDIR)$(SBINDIR)/arpd'; \
	if [ -e "$$t" ] || [ -L "$$t" ]; then \
		if [ -z '$(DESTDIR)' ] && command -v dpkg >/dev/null 2>&1 && pkg=$$(dpkg -S "$$t" 2>/dev/null); then \
			echo "make install: $$t belongs to the Debian package $${pkg%%:*}; not replacing it." >&2; \
			echo "Install this arpd beside it (the default PREFIX=/usr/local), see README.md." >&2; \
			exit 1; \
		fi; \
		if ! $(call ours,$$t); then \
			echo "make install: $$t is another program's arpd (iproute2's?); not replacing it." >&2; \
			echo "Install this arpd beside it (the default PREFIX=/usr/local), see README.md." >&2; \
			exit 1; \
		fi; \
	fi

# make uninstall: what make install put there; the binary only if it is
# this arpd.
uninstall:
	rm -f '$(DESTDIR)$(MANDIR)/man8/arpd.8' '$(DESTDIR)$(SYSTEMDUNITDIR)/arpd.service'
	@t='$(DESTDIR)$(SBINDIR)/arpd'; \
	if [ -e "$$t" ]; then \
		if $(call ours,$$t); then echo "rm -f $$t"; rm -f "$$t"; \
		else echo "make uninstall: $$t is not this arpd; left alone" >&2; fi; \
	fi

# The opt-in systemd lab (as root): the installed unit under a real
# systemd in a container (systemd-nspawn over a debootstrap rootfs of
# Debian, made once in ROOTFS, default /var/tmp/arpd-systemd-rootfs), in a
# network namespace of its own with a veth pair; it checks the sysctls,
# a resolution that only arpd can make, and their restoration on stop.
# It skips, saying why, where it cannot run (apt-get install
# systemd-container debootstrap).
test-systemd:
	$(call need-root,it makes network namespaces and boots a container)
	@$(MAKE) --no-print-directory build
	contrib/systemd/test-nspawn.sh

clean:
	rm -f arpd
	rm -rf dist
