"""Facts about a running Windows VM, gathered by one read-only PowerShell script.

The script (:data:`COLLECTION_SCRIPT`) runs once per target over WinRM. It is
written for PowerShell 2.0 (Windows Server 2008 R2) and later: no
``ConvertTo-Json``, ``[ordered]``, ``-in`` or ``Get-CimInstance``; the JSON comes
from a small hand-written serializer that escapes every character above 0x7E,
so the output is pure ASCII whatever the code page (shared/research/windows.md §2).

It only reads: ``Get-*`` cmdlets, WMI queries, registry and file reads, COM
objects that describe state (Task Scheduler, firewall policy) and a Windows
Update *search* (``IUpdateSearcher.Search`` lists updates; it downloads and
installs nothing). Each part runs in its own ``try``/``catch``: a part that
fails is recorded as ``{"error": "...", "type": "..."}`` and the others still
report. The script always exits 0, so a failed part reaches Python as data and
only the checks that need it report an error.

Checks never see PowerShell: they read :class:`WindowsFacts`, which can be
written to JSON (``--vm-facts-dir``) and replayed in tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_vmimage.verdict import FactError

#: A string the collection script contains (the WinRM test endpoint matches on it).
SCRIPT_MARKER = "pytest-vmimage windows facts v1"

#: Deadline for the whole collection: a Windows Update search can take minutes.
COLLECTION_TIMEOUT = 900.0

#: Every part the script reports, in order.
PARTS = (
    "os",
    "features",
    "sql",
    "disks",
    "bitlocker",
    "updates",
    "tasks",
    "services",
    "drives",
    "sysprep",
    "accounts",
    "rdp",
    "winrm",
    "ipv6",
)

COLLECTION_SCRIPT = r"""
# pytest-vmimage windows facts v1 (read-only; PowerShell 2.0 and later)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$inv = [Globalization.CultureInfo]::InvariantCulture

function New-Dict { return ,(New-Object System.Collections.Specialized.OrderedDictionary) }

function Get-WmiDate($s) {
    if ($null -eq $s -or [string]$s -eq '') { return $null }
    return [Management.ManagementDateTimeConverter]::ToDateTime([string]$s).ToUniversalTime()
}

function ConvertTo-JsonString($s) {
    if ($null -eq $s) { return 'null' }
    $s = [string]$s
    if ($s -match '^[\x20\x21\x23-\x5B\x5D-\x7E]*$') { return '"' + $s + '"' }
    $sb = New-Object System.Text.StringBuilder ($s.Length + 16)
    [void]$sb.Append('"')
    foreach ($ch in $s.ToCharArray()) {
        $c = [int]$ch
        if     ($c -eq 34) { [void]$sb.Append('\"') }
        elseif ($c -eq 92) { [void]$sb.Append('\\') }
        elseif ($c -eq 10) { [void]$sb.Append('\n') }
        elseif ($c -eq 13) { [void]$sb.Append('\r') }
        elseif ($c -eq 9)  { [void]$sb.Append('\t') }
        elseif ($c -eq 8)  { [void]$sb.Append('\b') }
        elseif ($c -eq 12) { [void]$sb.Append('\f') }
        elseif ($c -lt 32 -or $c -gt 126) { [void]$sb.Append(('\u{0:x4}' -f $c)) }
        else { [void]$sb.Append($ch) }
    }
    [void]$sb.Append('"')
    return $sb.ToString()
}

function ConvertTo-Json20($v, [int]$depth = 0) {
    if ($depth -gt 32)  { return '"<depth>"' }
    if ($null -eq $v)   { return 'null' }
    if ($v -is [string] -or $v -is [char]) { return (ConvertTo-JsonString ([string]$v)) }
    if ($v -is [bool])  { if ($v) { return 'true' } else { return 'false' } }
    if ($v -is [datetime]) {
        return '"' + $v.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", $inv) + '"' }
    if ($v -is [enum] -or $v -is [guid]) { return (ConvertTo-JsonString $v.ToString()) }
    if ($v -is [byte] -or $v -is [sbyte] -or $v -is [int16] -or $v -is [uint16] -or $v -is [int32] -or
        $v -is [uint32] -or $v -is [int64] -or $v -is [uint64]) { return $v.ToString($inv) }
    if ($v -is [double] -or $v -is [single]) {
        if ([double]::IsNaN($v) -or [double]::IsInfinity($v)) { return 'null' }
        return $v.ToString('R', $inv) }
    if ($v -is [decimal]) { return $v.ToString($inv) }
    if ($v -is [System.Collections.IDictionary]) {
        $items = New-Object System.Collections.ArrayList
        foreach ($k in $v.Keys) {
            [void]$items.Add((ConvertTo-JsonString ([string]$k)) + ':' + (ConvertTo-Json20 $v[$k] ($depth + 1))) }
        return '{' + [string]::Join(',', [string[]]$items.ToArray()) + '}' }
    if ($v -is [System.Collections.IEnumerable]) {
        $items = New-Object System.Collections.ArrayList
        foreach ($item in $v) { [void]$items.Add((ConvertTo-Json20 $item ($depth + 1))) }
        return '[' + [string]::Join(',', [string[]]$items.ToArray()) + ']' }
    return (ConvertTo-JsonString ([string]$v))
}

$collected = New-Dict

# Run one part; its result is the last dictionary it outputs. An error becomes
# {"error": ..., "type": ...} for that part only.
function Invoke-Part([string]$name, [scriptblock]$body) {
    try {
        $value = $null
        foreach ($o in @(& $body)) { if ($o -is [System.Collections.IDictionary]) { $value = $o } }
        if ($null -eq $value) { $value = New-Dict; $value['error'] = 'the part produced no result'; $value['type'] = '' }
        $collected[$name] = $value
    } catch {
        $e = New-Dict
        $e['error'] = [string]$_.Exception.Message
        $e['type'] = $_.Exception.GetType().FullName
        $collected[$name] = $e
    }
}

function Get-RawValues([string]$path) {
    # name -> unexpanded value of every value of a registry key ($null when the key is absent)
    if (-not (Test-Path $path)) { return $null }
    $key = Get-Item $path
    $d = New-Dict
    foreach ($n in @($key.GetValueNames())) {
        $raw = $key.GetValue($n, $null, 'DoNotExpandEnvironmentNames')
        if ($raw -is [array]) { $d[$n] = [string]::Join(' ', [string[]]$raw) } else { $d[$n] = [string]$raw }
    }
    return ,$d
}

Invoke-Part 'os' {
    $os = Get-WmiObject -Class Win32_OperatingSystem
    $cv = Get-ItemProperty 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
    $d = New-Dict
    $d['caption'] = ([string]$os.Caption).Trim()
    $d['version'] = [string]$os.Version
    $d['build'] = [string]$os.BuildNumber
    $d['sku'] = [int]$os.OperatingSystemSKU
    $d['product_type'] = [int]$os.ProductType
    $d['os_architecture'] = [string]$os.OSArchitecture
    $d['ptr_size'] = [IntPtr]::Size
    $d['proc_arch'] = [string]$env:PROCESSOR_ARCHITECTURE
    $d['proc_arch_w6432'] = [string]$env:PROCESSOR_ARCHITEW6432
    $d['sp_major'] = [int]$os.ServicePackMajorVersion
    $d['edition_id'] = [string]$cv.EditionID
    $d['installation_type'] = [string]$cv.InstallationType
    $d['product_name'] = [string]$cv.ProductName
    $d['install_date'] = Get-WmiDate $os.InstallDate
    $d['last_boot'] = Get-WmiDate $os.LastBootUpTime
    $d['computer_name'] = [string]$env:COMPUTERNAME
    $d['system_drive'] = [string]$env:SystemDrive
    $d['ps_version'] = $PSVersionTable.PSVersion.ToString()
    $d
}

Invoke-Part 'features' {
    $d = New-Dict
    $names = New-Object System.Collections.ArrayList
    try {
        Import-Module ServerManager
        foreach ($f in @(Get-WindowsFeature)) { if ($f.Installed) { [void]$names.Add([string]$f.Name) } }
        $d['source'] = 'Get-WindowsFeature'
    } catch {
        $d['source'] = 'unavailable'
        $d['servermanager_error'] = [string]$_.Exception.Message
    }
    $d['installed'] = $names.ToArray()
    try {
        $ids = New-Object System.Collections.ArrayList
        foreach ($f in @(Get-WmiObject -Class Win32_ServerFeature)) { [void]$ids.Add([int]$f.ID) }
        $d['server_feature_ids'] = $ids.ToArray()
    } catch { $d['server_feature_ids'] = $null; $d['server_feature_error'] = [string]$_.Exception.Message }
    $d
}

Invoke-Part 'sql' {
    $d = New-Dict
    $inst = New-Object System.Collections.ArrayList
    foreach ($root in @('HKLM:\SOFTWARE\Microsoft\Microsoft SQL Server',
                        'HKLM:\SOFTWARE\Wow6432Node\Microsoft\Microsoft SQL Server')) {
        $nk = $root + '\Instance Names\SQL'
        if (-not (Test-Path $nk)) { continue }
        $k = Get-Item $nk
        foreach ($name in @($k.GetValueNames())) {
            $id = [string]$k.GetValue($name)
            $s = Get-ItemProperty ($root + '\' + $id + '\Setup') -ErrorAction SilentlyContinue
            $x = New-Dict
            $x['instance'] = [string]$name
            $x['instance_id'] = $id
            $x['wow64'] = ($root -like '*Wow6432Node*')
            $x['edition'] = [string]$s.Edition
            $x['edition_type'] = [string]$s.EditionType
            $x['version'] = [string]$s.Version
            $x['patch_level'] = [string]$s.PatchLevel
            [void]$inst.Add($x)
        }
    }
    $d['instances'] = $inst.ToArray()
    $ldb = New-Object System.Collections.ArrayList
    $lk = 'HKLM:\SOFTWARE\Microsoft\Microsoft SQL Server Local DB\Installed Versions'
    if (Test-Path $lk) { foreach ($c in @(Get-ChildItem $lk)) { [void]$ldb.Add([string]$c.PSChildName) } }
    $d['localdb_versions'] = $ldb.ToArray()
    $d
}

Invoke-Part 'disks' {
    $d = New-Dict
    $disks = New-Object System.Collections.ArrayList
    foreach ($dd in @(Get-WmiObject -Class Win32_DiskDrive)) {
        $x = New-Dict
        $x['index'] = [int]$dd.Index
        $x['device_id'] = [string]$dd.DeviceID
        $x['model'] = [string]$dd.Model
        $x['interface'] = [string]$dd.InterfaceType
        if ($null -ne $dd.Size) { $x['size_bytes'] = [uint64]$dd.Size } else { $x['size_bytes'] = $null }
        $letters = New-Object System.Collections.ArrayList
        foreach ($p in @($dd.GetRelated('Win32_DiskPartition'))) {
            foreach ($ld in @($p.GetRelated('Win32_LogicalDisk'))) { [void]$letters.Add([string]$ld.DeviceID) }
        }
        $x['letters'] = $letters.ToArray()
        [void]$disks.Add($x)
    }
    $d['physical'] = $disks.ToArray()
    $logical = New-Object System.Collections.ArrayList
    foreach ($ld in @(Get-WmiObject -Class Win32_LogicalDisk -Filter 'DriveType=3')) {
        $x = New-Dict
        $x['id'] = [string]$ld.DeviceID
        $x['volume_name'] = [string]$ld.VolumeName
        $x['fs'] = [string]$ld.FileSystem
        if ($null -ne $ld.Size) { $x['size_bytes'] = [uint64]$ld.Size } else { $x['size_bytes'] = $null }
        $x['dataloss_warning'] = (Test-Path ([string]$ld.DeviceID + '\DATALOSS_WARNING_README.txt'))
        [void]$logical.Add($x)
    }
    $d['logical'] = $logical.ToArray()
    try {
        $exact = New-Object System.Collections.ArrayList
        foreach ($m in @(Get-WmiObject -Namespace 'root\Microsoft\Windows\Storage' -Class MSFT_Disk)) {
            $x = New-Dict; $x['number'] = [int]$m.Number; $x['size_bytes'] = [uint64]$m.Size
            [void]$exact.Add($x)
        }
        $d['msft_disk'] = $exact.ToArray()
    } catch { $d['msft_disk'] = $null }
    $d
}

Invoke-Part 'bitlocker' {
    $d = New-Dict
    $d['drive'] = [string]$env:SystemDrive
    try {
        $vol = Get-WmiObject -Namespace 'root\CIMV2\Security\MicrosoftVolumeEncryption' `
                             -Class Win32_EncryptableVolume -Filter ("DriveLetter='" + $env:SystemDrive + "'")
        $d['namespace_present'] = $true
    } catch {
        $d['namespace_present'] = $false
        $d['namespace_error'] = [string]$_.Exception.Message
        $code = $null
        try { $code = [string]$_.Exception.ErrorCode } catch { $code = $null }
        $d['wmi_error'] = $code
        return $d
    }
    if ($null -eq $vol) { $d['volume_found'] = $false; return $d }
    $d['volume_found'] = $true
    $p = $vol.GetProtectionStatus()
    $c = $vol.GetConversionStatus()
    $d['protection_status'] = [int]$p.ProtectionStatus
    $d['conversion_status'] = [int]$c.ConversionStatus
    $d['encryption_percentage'] = [int]$c.EncryptionPercentage
    $d
}

Invoke-Part 'updates' {
    $d = New-Dict
    $session = New-Object -ComObject Microsoft.Update.Session
    $searcher = $session.CreateUpdateSearcher()
    $d['server_selection'] = [int]$searcher.ServerSelection
    $criteria = "IsInstalled=0 and Type='Software' and IsHidden=0"
    $d['criteria'] = $criteria
    try {
        $r = $searcher.Search($criteria)
    } catch {
        $e = $_.Exception
        while ($null -ne $e.InnerException) { $e = $e.InnerException }
        $d['search_ok'] = $false
        $d['search_error'] = [string]$e.Message
        if ($e -is [Runtime.InteropServices.ExternalException]) { $d['hresult'] = ('0x{0:X8}' -f $e.ErrorCode) }
        else { $d['hresult'] = $null }
        return $d
    }
    $d['search_ok'] = $true
    $d['result_code'] = [int]$r.ResultCode
    $list = New-Object System.Collections.ArrayList
    for ($i = 0; $i -lt $r.Updates.Count; $i++) {
        $u = $r.Updates.Item($i)
        $x = New-Dict
        $x['title'] = [string]$u.Title
        $x['msrc_severity'] = [string]$u.MsrcSeverity
        $kb = New-Object System.Collections.ArrayList
        if ($null -ne $u.KBArticleIDs) { foreach ($k in $u.KBArticleIDs) { [void]$kb.Add([string]$k) } }
        $x['kb'] = $kb.ToArray()
        $x['browse_only'] = [bool]$u.BrowseOnly
        [void]$list.Add($x)
    }
    $d['updates'] = $list.ToArray()
    $d
}

Invoke-Part 'tasks' {
    $svc = New-Object -ComObject Schedule.Service
    $svc.Connect()
    $out = New-Object System.Collections.ArrayList
    $stack = New-Object System.Collections.Stack
    $stack.Push($svc.GetFolder('\'))
    while ($stack.Count -gt 0) {
        $f = $stack.Pop()
        foreach ($sub in @($f.GetFolders(0))) { $stack.Push($sub) }
        foreach ($t in @($f.GetTasks(1))) {
            $x = New-Dict
            $x['path'] = [string]$t.Path
            try {
                $x['enabled'] = [bool]$t.Enabled
                $types = New-Object System.Collections.ArrayList
                foreach ($tr in @($t.Definition.Triggers)) { [void]$types.Add([int]$tr.Type) }
                $x['trigger_types'] = $types.ToArray()
                $acts = New-Object System.Collections.ArrayList
                foreach ($a in @($t.Definition.Actions)) {
                    if ([int]$a.Type -eq 0) {
                        $ad = New-Dict
                        $ad['path'] = [string]$a.Path
                        $ad['arguments'] = [string]$a.Arguments
                        $ad['working_directory'] = [string]$a.WorkingDirectory
                        [void]$acts.Add($ad)
                    }
                }
                $x['actions'] = $acts.ToArray()
                $x['run_as'] = [string]$t.Definition.Principal.UserId
            } catch { $x['read_error'] = [string]$_.Exception.Message }
            [void]$out.Add($x)
        }
    }
    $d = New-Dict
    $d['tasks'] = $out.ToArray()
    $d
}

Invoke-Part 'services' {
    $d = New-Dict
    $l = New-Object System.Collections.ArrayList
    foreach ($s in @(Get-WmiObject -Class Win32_Service)) {
        $x = New-Dict
        $x['name'] = [string]$s.Name
        $x['path'] = [string]$s.PathName
        $x['start_mode'] = [string]$s.StartMode
        $x['state'] = [string]$s.State
        $x['start_name'] = [string]$s.StartName
        [void]$l.Add($x)
    }
    $d['services'] = $l.ToArray()
    $d
}

Invoke-Part 'drives' {
    $d = New-Dict
    $cs = Get-WmiObject -Class Win32_ComputerSystem
    $d['pagefile_automatic'] = [bool]$cs.AutomaticManagedPagefile
    $ps = New-Object System.Collections.ArrayList
    foreach ($p in @(Get-WmiObject -Class Win32_PageFileSetting)) { [void]$ps.Add([string]$p.Name) }
    $d['pagefile_settings'] = $ps.ToArray()
    $pu = New-Object System.Collections.ArrayList
    foreach ($p in @(Get-WmiObject -Class Win32_PageFileUsage)) { [void]$pu.Add([string]$p.Name) }
    $d['pagefile_usage'] = $pu.ToArray()
    $mm = Get-ItemProperty 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager\Memory Management'
    $pf = New-Object System.Collections.ArrayList
    foreach ($v in @($mm.PagingFiles)) { if ($null -ne $v) { [void]$pf.Add([string]$v) } }
    $d['paging_files_reg'] = $pf.ToArray()
    $runs = New-Dict
    foreach ($k in @('HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Run',
                     'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\RunOnce',
                     'HKLM:\SOFTWARE\Wow6432Node\Microsoft\Windows\CurrentVersion\Run',
                     'HKLM:\SOFTWARE\Wow6432Node\Microsoft\Windows\CurrentVersion\RunOnce',
                     'Registry::HKEY_USERS\.DEFAULT\Software\Microsoft\Windows\CurrentVersion\Run')) {
        $vals = Get-RawValues $k
        if ($null -ne $vals) { $runs[$k] = $vals }
    }
    $d['run_keys'] = $runs
    $d['machine_env'] = Get-RawValues 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager\Environment'
    $d
}

Invoke-Part 'sysprep' {
    $d = New-Dict
    $ss = Get-ItemProperty 'HKLM:\SYSTEM\Setup\Status\SysprepStatus' -ErrorAction SilentlyContinue
    $d['generalization_state'] = $ss.GeneralizationState
    $d['cleanup_state'] = $ss.CleanupState
    $is = Get-ItemProperty 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Setup\State' -ErrorAction SilentlyContinue
    $d['image_state'] = [string]$is.ImageState
    $setup = Get-ItemProperty 'HKLM:\SYSTEM\Setup' -ErrorAction SilentlyContinue
    $ct = New-Object System.Collections.ArrayList
    foreach ($v in @($setup.CloneTag)) { if ($null -ne $v) { [void]$ct.Add([string]$v) } }
    $d['clone_tag'] = $ct.ToArray()
    $d['sysprep_succeeded_tag'] = Test-Path (Join-Path $env:windir 'System32\Sysprep\Sysprep_succeeded.tag')
    $patterns = New-Dict
    $patterns['generalization_state'] = 'Found generalization state'
    $patterns['generalize'] = 'generaliz'
    $patterns['specialize'] = 'specialize'
    $patterns['oobe'] = 'oobeSystem|msoobe|oobeldr'
    $patterns['image_state'] = 'IMAGE_STATE_'
    $logs = New-Dict
    foreach ($p in @("$env:windir\System32\Sysprep\Panther\setupact.log", "$env:windir\Panther\setupact.log",
                     "$env:windir\Panther\UnattendGC\setupact.log")) {
        $x = New-Dict
        $x['exists'] = (Test-Path $p)
        if ($x['exists']) {
            $fi = Get-Item $p
            $x['size'] = [int64]$fi.Length
            $x['mtime'] = $fi.LastWriteTime.ToUniversalTime()
            $first = @(Get-Content $p -TotalCount 1)
            if ($first.Count -gt 0) { $x['first_line'] = [string]$first[0] } else { $x['first_line'] = '' }
            $m = New-Dict
            foreach ($k in @($patterns.Keys)) {
                $m[$k] = @(Select-String -Path $p -Pattern $patterns[$k] | Select-Object -Last 5 |
                           ForEach-Object { [string]$_.Line })
            }
            $x['matches'] = $m
        }
        $logs[$p] = $x
    }
    $d['panther'] = $logs
    $d
}

Invoke-Part 'accounts' {
    $d = New-Dict
    $me = [Security.Principal.WindowsIdentity]::GetCurrent()
    $d['current_user'] = [string]$me.Name
    $d['current_sid'] = [string]$me.User.Value
    $d['current_is_admin'] = (New-Object Security.Principal.WindowsPrincipal($me)).IsInRole(
                                 [Security.Principal.WindowsBuiltInRole]::Administrator)
    $adm = @(Get-WmiObject -Class Win32_UserAccount -Filter 'LocalAccount=True' |
             Where-Object { $_.SID -like 'S-1-5-21-*-500' })
    $d['builtin_admin_name'] = $null
    $d['builtin_admin_sid'] = $null
    if ($adm.Count -gt 0) {
        $d['builtin_admin_name'] = [string]$adm[0].Name
        $d['builtin_admin_sid'] = [string]$adm[0].SID
        $d['builtin_admin_disabled'] = [bool]$adm[0].Disabled
    }
    $d
}

Invoke-Part 'rdp' {
    $d = New-Dict
    $ts = Get-ItemProperty 'HKLM:\SYSTEM\CurrentControlSet\Control\Terminal Server'
    $pol = Get-ItemProperty 'HKLM:\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services' -ErrorAction SilentlyContinue
    $tcp = Get-ItemProperty 'HKLM:\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations\RDP-Tcp'
    $d['fDenyTSConnections'] = $ts.fDenyTSConnections
    $d['policy_fDenyTSConnections'] = $pol.fDenyTSConnections
    $d['port'] = $tcp.PortNumber
    $d['nla'] = $tcp.UserAuthentication
    $s = Get-WmiObject -Class Win32_Service -Filter "Name='TermService'"
    $d['termservice_state'] = [string]$s.State
    $d['termservice_start'] = [string]$s.StartMode
    $fw = New-Object -ComObject HNetCfg.FwPolicy2
    $d['fw_current_profiles'] = [int]$fw.CurrentProfileTypes
    $rules = New-Object System.Collections.ArrayList
    foreach ($r in $fw.Rules) {
        if ([string]$r.Grouping -eq '@FirewallAPI.dll,-28752') {
            $x = New-Dict
            $x['name'] = [string]$r.Name
            $x['enabled'] = [bool]$r.Enabled
            $x['direction'] = [int]$r.Direction
            $x['action'] = [int]$r.Action
            $x['profiles'] = [int]$r.Profiles
            $x['protocol'] = [int]$r.Protocol
            $x['local_ports'] = [string]$r.LocalPorts
            [void]$rules.Add($x)
        }
    }
    $d['fw_rules'] = $rules.ToArray()
    $prof = New-Dict
    foreach ($p in @('DomainProfile', 'StandardProfile', 'PublicProfile')) {
        $k = Get-ItemProperty ('HKLM:\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy\' + $p) -ErrorAction SilentlyContinue
        $prof[$p] = $k.EnableFirewall
    }
    $d['fw_enabled'] = $prof
    $gpo = New-Dict
    foreach ($p in @('DomainProfile', 'PrivateProfile', 'PublicProfile')) {
        $k = Get-ItemProperty ('HKLM:\SOFTWARE\Policies\Microsoft\WindowsFirewall\' + $p) -ErrorAction SilentlyContinue
        $gpo[$p] = $k.EnableFirewall
    }
    $d['fw_enabled_policy'] = $gpo
    $d
}

Invoke-Part 'winrm' {
    $d = New-Dict
    $ls = New-Object System.Collections.ArrayList
    foreach ($l in @(Get-ChildItem WSMan:\localhost\Listener)) {
        $x = New-Dict
        $keys = New-Object System.Collections.ArrayList
        foreach ($k in @($l.Keys)) { [void]$keys.Add([string]$k) }
        $x['keys'] = $keys.ToArray()
        foreach ($p in @(Get-ChildItem $l.PSPath)) { $x[[string]$p.Name] = [string]$p.Value }
        [void]$ls.Add($x)
    }
    $d['listeners'] = $ls.ToArray()
    $d
}

Invoke-Part 'ipv6' {
    $d = New-Dict
    $addrs = New-Object System.Collections.ArrayList
    foreach ($ni in [System.Net.NetworkInformation.NetworkInterface]::GetAllNetworkInterfaces()) {
        foreach ($ua in $ni.GetIPProperties().UnicastAddresses) {
            if ($ua.Address.AddressFamily -ne [System.Net.Sockets.AddressFamily]::InterNetworkV6) { continue }
            $x = New-Dict
            $x['interface'] = [string]$ni.Name
            $x['address'] = $ua.Address.ToString()
            $x['prefix_origin'] = [string]$ua.PrefixOrigin
            $x['suffix_origin'] = [string]$ua.SuffixOrigin
            $x['link_local'] = [bool]$ua.Address.IsIPv6LinkLocal
            $x['loopback'] = [System.Net.IPAddress]::IsLoopback($ua.Address)
            [void]$addrs.Add($x)
        }
    }
    $d['addresses'] = $addrs.ToArray()
    $d
}

$pieces = New-Object System.Collections.ArrayList
foreach ($k in @($collected.Keys)) {
    try { $j = ConvertTo-Json20 $collected[$k] }
    catch { $j = '{"error":' + (ConvertTo-JsonString ('serializing the part failed: ' + $_.Exception.Message)) + ',"type":"serializer"}' }
    [void]$pieces.Add((ConvertTo-JsonString ([string]$k)) + ':' + $j)
}
$meta = '{"script":"pytest-vmimage windows facts v1","ps_version":' + (ConvertTo-JsonString $PSVersionTable.PSVersion.ToString()) + ',"collected":' + (ConvertTo-Json20 ([DateTime]::UtcNow)) + '}'
[Console]::Out.Write('<<<CERT-JSON>>>{"meta":' + $meta + ',"parts":{' + [string]::Join(',', [string[]]$pieces.ToArray()) + '}}<<<END-CERT-JSON>>>')
[Console]::Out.Flush()
exit 0
"""


@dataclass
class WindowsFacts:
    """The parts the collection script reported, plus accessors for the checks.

    ``parts`` maps a part name (:data:`PARTS`) to what PowerShell reported, or to
    ``{"error": ..., "type": ...}`` when that part failed on the VM.
    """

    parts: dict[str, Any]
    admin_user: str = ""
    meta: dict = field(default_factory=dict)

    # -- recording -------------------------------------------------------
    def to_json(self) -> dict:
        return {"admin_user": self.admin_user, "meta": self.meta, "parts": self.parts}

    @classmethod
    def from_json(cls, data: dict) -> WindowsFacts:
        if not isinstance(data, dict) or not isinstance(data.get("parts"), dict):
            raise FactError("the Windows facts document has no 'parts' object")
        return cls(parts=data["parts"], admin_user=data.get("admin_user", ""), meta=data.get("meta", {}))

    @classmethod
    def load(cls, path: str | Path) -> WindowsFacts:
        return cls.from_json(json.loads(Path(path).read_text()))

    # -- access ----------------------------------------------------------
    def part(self, name: str) -> dict[str, Any]:
        """One part, or FactError naming it and the PowerShell error."""
        value = self.parts.get(name)
        if value is None:
            raise FactError(f"Windows fact part {name!r} was not collected")
        if not isinstance(value, dict):
            raise FactError(f"Windows fact part {name!r} is not an object: {value!r:.200}")
        if "error" in value:
            kind = f" ({value['type']})" if value.get("type") else ""
            raise FactError(f"collecting {name!r} failed on the VM: {value['error']}{kind}")
        return value

    def get(self, name: str, key: str) -> Any:
        """``part(name)[key]``; a missing key is a FactError too."""
        part = self.part(name)
        if key not in part:
            raise FactError(f"Windows fact part {name!r} has no {key!r}")
        return part[key]

    @property
    def os(self) -> dict[str, Any]:
        return self.part("os")

    @property
    def system_drive(self) -> str:
        return (self.parts.get("os", {}).get("system_drive") or "C:").upper()

    @property
    def os_version(self) -> tuple[int, int, int]:
        """(major, minor, build) from Win32_OperatingSystem.Version, e.g. (6, 3, 9600)."""
        text = str(self.get("os", "version"))
        try:
            numbers = tuple(int(x) for x in text.split(".")[:3])
        except ValueError:
            raise FactError(f"Windows version {text!r} is not numeric") from None
        if len(numbers) != 3:
            raise FactError(f"Windows version {text!r} is not major.minor.build")
        return numbers  # type: ignore[return-value]

    def services(self) -> list[dict[str, Any]]:
        return list(self.get("services", "services"))

    def tasks(self) -> list[dict[str, Any]]:
        return list(self.get("tasks", "tasks"))


def gather(client, admin_user: str = "", timeout: float = COLLECTION_TIMEOUT) -> WindowsFacts:
    """Run the collection script once over ``client`` (``run_ps(script, timeout)``)."""
    document = client.run_ps(COLLECTION_SCRIPT, timeout=timeout)
    if hasattr(client, "commands_run"):
        client.commands_run += 1
    if not isinstance(document, dict) or not isinstance(document.get("parts"), dict):
        raise FactError(
            "the Windows fact collection script returned no 'parts' object: " + repr(document)[:300]
        )
    return WindowsFacts(parts=document["parts"], admin_user=admin_user, meta=document.get("meta", {}))
