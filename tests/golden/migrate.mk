# SPDX-License-Identifier: MIT
# Golden tests of the migrate verbs' usage, messages and exit codes.
TESTS_SH += tests/golden/migrate-cli.sh
DEPS_PKGS += binutils
