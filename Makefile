# Build, test and install the libvirt NSS modules and lease helper.
#   make build     release build; modules land in target/modules/ under their sonames
#   make test      everything (unit, dlopen, getent in namespaces, helper, dnsmasq e2e)
#   make bench     ours vs Debian's C modules; writes bench/results/<date>-<arch>.md (root)
#   make demo      sample VMs through getent and libvirt-nss in a private namespace (no host change)
#   make demo-vm   three real qemu guests behind a real libvirtd, resolved (root; private namespaces)
#   make deb       Debian packages in target/debian/ (cargo-deb), checked by scripts/check-debs.sh
#   make fuzz      every fuzz target for FUZZ_SECONDS (default 60) each; crashes land in fuzz/artifacts/
#   make install   DESTDIR, PREFIX=/usr, LIBDIR=<multiarch libdir>, LIBEXECDIR, BINDIR, SSHCONFDIR
SHELL := /bin/bash
CARGO ?= cargo
PREFIX ?= /usr
MULTIARCH := $(shell gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
LIBDIR ?= $(PREFIX)/lib/$(MULTIARCH)
LIBEXECDIR ?= $(PREFIX)/libexec/libvirt-nss-rs
BINDIR ?= $(PREFIX)/bin
# Read before libvirt's 30-libvirt-ssh-proxy.conf (ssh keeps the first value).
SSHCONFDIR ?= /etc/ssh/ssh_config.d
SSH_SNIPPET := 29-libvirt-nss-rs-ssh-proxy.conf
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/vendor-completions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
MODULES_DIR := target/modules
RELEASE := target/release

.PHONY: all build test bench demo demo-vm deb fuzz install uninstall clean

all: build

build:
	$(CARGO) build --release --workspace
	mkdir -p $(MODULES_DIR)
	install -m 0644 $(RELEASE)/libnss_libvirt.so $(MODULES_DIR)/libnss_libvirt.so.2
	install -m 0644 $(RELEASE)/libnss_libvirt_guest.so $(MODULES_DIR)/libnss_libvirt_guest.so.2
	# Man page and completions, generated from the CLI definition itself.
	mkdir -p target/man target/completions
	$(RELEASE)/libvirt-ssh-proxy generate man | gzip -9n > target/man/libvirt-ssh-proxy.1.gz
	$(RELEASE)/libvirt-ssh-proxy generate bash > target/completions/libvirt-ssh-proxy.bash
	$(RELEASE)/libvirt-ssh-proxy generate zsh > target/completions/_libvirt-ssh-proxy
	$(RELEASE)/libvirt-ssh-proxy generate fish > target/completions/libvirt-ssh-proxy.fish
	$(RELEASE)/libvirt-nss generate man | gzip -9n > target/man/libvirt-nss.1.gz
	$(RELEASE)/libvirt-nss generate bash > target/completions/libvirt-nss.bash
	$(RELEASE)/libvirt-nss generate zsh > target/completions/_libvirt-nss
	$(RELEASE)/libvirt-nss generate fish > target/completions/libvirt-nss.fish

# Installs missing test packages first when run as root (apt); otherwise the
# tests that need them say SKIPPED (and fail under CI=true).
test: build
	./scripts/install-test-deps.sh
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test --workspace --release
	scripts/check-debs.sh --no-build

bench: build
	scripts/bench.sh -B

demo: build
	scripts/demo.sh --no-build

# A real libvirtd, its dnsmasq and three TCG guests in private namespaces
# (scripts/real-vms.sh); the first run fetches qemu and a kernel (~50 MB).
demo-vm: build
	scripts/real-vms.sh --demo

deb: build
	scripts/check-debs.sh --no-build

# Stable-toolchain fuzzing (fuzz/src/main.rs); `make test` runs a short smoke of it.
FUZZ_SECONDS ?= 60
fuzz:
	$(CARGO) build --release -p fuzz
	for t in $$($(RELEASE)/fuzz --list); do $(RELEASE)/fuzz $$t --seconds $(FUZZ_SECONDS) || exit 1; done

install: build
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(BINDIR)
	install -m 0644 $(MODULES_DIR)/libnss_libvirt.so.2 $(DESTDIR)$(LIBDIR)/libnss_libvirt.so.2
	install -m 0644 $(MODULES_DIR)/libnss_libvirt_guest.so.2 $(DESTDIR)$(LIBDIR)/libnss_libvirt_guest.so.2
	install -m 0755 $(RELEASE)/libvirt_leaseshelper $(DESTDIR)$(LIBEXECDIR)/libvirt_leaseshelper
	install -m 0755 $(RELEASE)/libvirt-nss $(DESTDIR)$(BINDIR)/libvirt-nss
	install -m 0755 $(RELEASE)/libvirt-ssh-proxy $(DESTDIR)$(BINDIR)/libvirt-ssh-proxy
	# ssh refuses a config file that is not root-owned or is writable by others.
	install -d $(DESTDIR)$(SSHCONFDIR)
	sed 's|/usr/bin/libvirt-ssh-proxy|$(BINDIR)/libvirt-ssh-proxy|' ssh-proxy/$(SSH_SNIPPET) > $(DESTDIR)$(SSHCONFDIR)/$(SSH_SNIPPET).tmp
	chmod 0644 $(DESTDIR)$(SSHCONFDIR)/$(SSH_SNIPPET).tmp
	if [ "$$(id -u)" = 0 ]; then chown root:root $(DESTDIR)$(SSHCONFDIR)/$(SSH_SNIPPET).tmp; fi
	mv $(DESTDIR)$(SSHCONFDIR)/$(SSH_SNIPPET).tmp $(DESTDIR)$(SSHCONFDIR)/$(SSH_SNIPPET)
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 0644 target/man/libvirt-ssh-proxy.1.gz $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 target/completions/libvirt-ssh-proxy.bash $(DESTDIR)$(BASHCOMPDIR)/libvirt-ssh-proxy
	install -m 0644 target/completions/_libvirt-ssh-proxy $(DESTDIR)$(ZSHCOMPDIR)/
	install -m 0644 target/completions/libvirt-ssh-proxy.fish $(DESTDIR)$(FISHCOMPDIR)/
	install -m 0644 target/man/libvirt-nss.1.gz $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 target/completions/libvirt-nss.bash $(DESTDIR)$(BASHCOMPDIR)/libvirt-nss
	install -m 0644 target/completions/_libvirt-nss $(DESTDIR)$(ZSHCOMPDIR)/
	install -m 0644 target/completions/libvirt-nss.fish $(DESTDIR)$(FISHCOMPDIR)/

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libnss_libvirt.so.2 $(DESTDIR)$(LIBDIR)/libnss_libvirt_guest.so.2
	rm -f $(DESTDIR)$(LIBEXECDIR)/libvirt_leaseshelper $(DESTDIR)$(BINDIR)/libvirt-nss
	rm -f $(DESTDIR)$(BINDIR)/libvirt-ssh-proxy $(DESTDIR)$(SSHCONFDIR)/$(SSH_SNIPPET)
	rm -f $(DESTDIR)$(MANDIR)/man1/libvirt-ssh-proxy.1.gz $(DESTDIR)$(BASHCOMPDIR)/libvirt-ssh-proxy
	rm -f $(DESTDIR)$(ZSHCOMPDIR)/_libvirt-ssh-proxy $(DESTDIR)$(FISHCOMPDIR)/libvirt-ssh-proxy.fish
	rm -f $(DESTDIR)$(MANDIR)/man1/libvirt-nss.1.gz $(DESTDIR)$(BASHCOMPDIR)/libvirt-nss
	rm -f $(DESTDIR)$(ZSHCOMPDIR)/_libvirt-nss $(DESTDIR)$(FISHCOMPDIR)/libvirt-nss.fish
	-rmdir $(DESTDIR)$(LIBEXECDIR) 2>/dev/null

clean:
	$(CARGO) clean
