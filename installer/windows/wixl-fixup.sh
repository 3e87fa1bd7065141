#!/bin/sh
# Gives a wixl-built MSI what wixl 0.101 cannot write from kiagateway.wxs, so it matches what
# WiX 3 builds from the same file (checked by tests/windows/test_msi.py MsiTables):
#   - the config components' Permanent bit (wixl ignores Permanent) and the config's condition
#     (wixl cannot read a Component's Condition child);
#   - the sc.exe custom actions (wixl drops a CustomAction with Directory + ExeCommand);
#   - REG_EXPAND_SZ for the Event Log's EventMessageFile (wixl ignores Type="expandable");
#   - INSTALLCONFIG as a secure property, so it reaches the elevated part of the install.
# Usage: wixl-fixup.sh MSI
set -eu
msi="$1"
q() { msibuild "$msi" -q "$1"; }

# Attributes: 256 = 64-bit, 4 = registry key path, 16 = permanent.
q "UPDATE \`Component\` SET \`Attributes\` = 272, \`Condition\` = 'INSTALLCONFIG = \"1\" AND NOT KG_CONFIG_MARKER' WHERE \`Component\` = 'Config'"
q "UPDATE \`Component\` SET \`Attributes\` = 276 WHERE \`Component\` = 'ConfigMarker'"

# Type 3170 = 34 (exe, run in a directory) + 64 (ignore its exit code) + 1024 (deferred) + 2048 (no impersonation).
q "INSERT INTO \`CustomAction\` (\`Action\`, \`Type\`, \`Source\`, \`Target\`) VALUES ('SetServiceRecovery', 3170, 'System64Folder', '\"[System64Folder]sc.exe\" failure kiagateway reset= 86400 actions= restart/5000/restart/10000/restart/60000')"
q "INSERT INTO \`CustomAction\` (\`Action\`, \`Type\`, \`Source\`, \`Target\`) VALUES ('SetServiceRecoveryOnErrorExit', 3170, 'System64Folder', '\"[System64Folder]sc.exe\" failureflag kiagateway 1')"

q "UPDATE \`Registry\` SET \`Value\` = '#%[#kiagateway.exe]' WHERE \`Name\` = 'EventMessageFile'"

q "UPDATE \`Property\` SET \`Value\` = 'INSTALLCONFIG;WIX_DOWNGRADE_DETECTED;WIX_UPGRADE_DETECTED' WHERE \`Property\` = 'SecureCustomProperties'"
