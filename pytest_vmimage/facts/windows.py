"""Facts about a running Windows VM, gathered by one read-only PowerShell script.

The script (:data:`COLLECTION_SCRIPT`) runs once per target over WinRM. It is
written for PowerShell 2.0 (Windows Server 2008 R2) and later: no
``ConvertTo-Json``, ``[ordered]``, ``-in`` or ``Get-CimInstance``; the JSON comes
from a small hand-written serializer that escapes every character above 0x7E,
so the output is pure ASCII whatever the code page (shared/research/windows.md §2).

It only reads: ``Get-*`` cmdlets, WMI queries, registry and file reads, COM
objects that describe state (Task Scheduler, firewall policy) and a Windows
Update *search* (``IUpdateSearcher.Search`` lists updates; it downloads and
installs nothing). Each part runs in its own ``try``/``catch`` and reports
``_status`` (``ok``, ``error`` with ``_error``, or ``timeout``), ``_elapsed_ms``
and ``_counts`` (the items of each list or object when it finished); the others
still report. The script always exits 0, so a failed part reaches Python as data
and only the checks that need it report an error.

The error model: every fact is a value, ``{"_absent": why}`` (looked, not there)
or ``{"_unreadable": why}`` (access denied, WMI/registry error); a missing key, a
``null``, a list whose length differs from its count or a value of the wrong type
is unreadable too. :class:`Fact` carries the three states; the accessors of
:class:`WindowsFacts` (``value``, ``fact``, ``records``, ``services``, ...) raise
FactError naming the fact, so a check passes only on facts it actually read.

Checks never see PowerShell: they read :class:`WindowsFacts`, which can be
written to JSON (``--vm-facts-dir``) and replayed in tests.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_vmimage.facts.fact import Fact
from pytest_vmimage.verdict import FactError

#: A string the collection script contains (the WinRM test endpoint matches on it).
SCRIPT_MARKER = "pytest-vmimage windows facts v3"

#: Deadline for the whole collection: a Windows Update search can take minutes.
COLLECTION_TIMEOUT = 900.0
#: Deadline of the Windows Update search inside the script (its part then reports
#: ``_status: timeout``; the other parts still report).
UPDATE_SEARCH_TIMEOUT = 600.0

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
    "agent",
)

COLLECTION_SCRIPT = r"""
# pytest-vmimage windows facts v3 (read-only; PowerShell 2.0 and later)
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

# A fact that was looked for and is not there, or that could not be read: never a bare
# $null, which would read as "nothing there".
function New-Absent([string]$why) { $m = New-Dict; $m['_absent'] = $why; return ,$m }
function New-Unreadable([string]$why) { $m = New-Dict; $m['_unreadable'] = $why; return ,$m }
function Test-Marker($v) {
    return ($v -is [System.Collections.IDictionary] -and $v.Count -eq 1 -and
            ($v.Contains('_absent') -or $v.Contains('_unreadable')))
}

# Run one part; its result is the last dictionary it outputs, completed with _status 'ok',
# _counts (items of every list or object, so a list cut short on the way is detectable)
# and _elapsed_ms. An error becomes _status 'error' (or 'timeout') with _error for that
# part only.
function Invoke-Part([string]$name, [scriptblock]$body) {
    $watch = [Diagnostics.Stopwatch]::StartNew()
    try {
        $value = $null
        foreach ($o in @(& $body)) { if ($o -is [System.Collections.IDictionary]) { $value = $o } }
        if ($null -eq $value) { throw 'the part produced no result' }
        $counts = New-Dict
        foreach ($k in @($value.Keys)) {
            $v = $value[$k]
            if ($v -is [System.Collections.ICollection] -and -not (Test-Marker $v)) { $counts[$k] = $v.Count }
        }
        $value['_counts'] = $counts
        $value['_status'] = 'ok'
    } catch {
        $value = New-Dict
        if ($_.Exception -is [System.TimeoutException]) { $value['_status'] = 'timeout' }
        else { $value['_status'] = 'error' }
        $value['_error'] = [string]$_.Exception.Message
        $value['_error_type'] = $_.Exception.GetType().FullName
    }
    $value['_elapsed_ms'] = [int64]$watch.ElapsedMilliseconds
    $collected[$name] = $value
}

# A registry key, or New-Absent (not there) / New-Unreadable (access denied, any other error).
function Open-RegKey([string]$path) {
    try { return (Get-Item -LiteralPath $path -ErrorAction Stop) }
    catch {
        if ($_.Exception -is [System.Management.Automation.ItemNotFoundException] -or
            [string]$_.FullyQualifiedErrorId -like 'PathNotFound*') {
            return (New-Absent ('registry key ' + $path + ' not present')) }
        return (New-Unreadable ('reading ' + $path + ': ' + $_.Exception.Message))
    }
}

# One registry value, unexpanded: the value, New-Absent (key or value not there) or
# New-Unreadable (access denied, any other error).
function Read-RegValue([string]$path, [string]$name) {
    $key = Open-RegKey $path
    if (Test-Marker $key) { return ,$key }
    try {
        if (-not (@($key.GetValueNames()) -contains $name)) {
            return (New-Absent ('value ' + $name + ' not set in ' + $path)) }
        $raw = $key.GetValue($name, $null, 'DoNotExpandEnvironmentNames')
    } catch { return (New-Unreadable ('reading ' + $path + '\' + $name + ': ' + $_.Exception.Message)) }
    if ($null -eq $raw) { return (New-Unreadable ($path + '\' + $name + ' returned no data')) }
    if ($raw -is [array]) { $l = New-Object System.Collections.ArrayList
        foreach ($x in $raw) { [void]$l.Add([string]$x) }; return ,$l.ToArray() }
    return $raw
}

function Get-RawValues([string]$path) {
    # name -> unexpanded value of every value of a registry key (or the key's marker)
    $key = Open-RegKey $path
    if (Test-Marker $key) { return ,$key }
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
    # a property WMI did not return is unread ([int]$null would be 0, a false value)
    foreach ($p in @(@('sku', 'OperatingSystemSKU'), @('product_type', 'ProductType'), @('sp_major', 'ServicePackMajorVersion'))) {
        $v = $os.($p[1])
        if ($null -eq $v) { $d[$p[0]] = New-Unreadable ('Win32_OperatingSystem.' + $p[1] + ' returned no value') }
        else { $d[$p[0]] = [int]$v }
    }
    $d['os_architecture'] = [string]$os.OSArchitecture
    $d['ptr_size'] = [IntPtr]::Size
    $d['proc_arch'] = [string]$env:PROCESSOR_ARCHITECTURE
    $d['proc_arch_w6432'] = [string]$env:PROCESSOR_ARCHITEW6432
    $d['edition_id'] = Read-RegValue 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion' 'EditionID'
    $d['installation_type'] = [string]$cv.InstallationType
    $d['product_name'] = [string]$cv.ProductName
    $d['current_build'] = [string]$cv.CurrentBuild
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
        $all = @(Get-WindowsFeature)
        if ($all.Count -eq 0) { throw 'Get-WindowsFeature listed no feature at all' }
        foreach ($f in $all) { if ($f.Installed) { [void]$names.Add([string]$f.Name) } }
        $d['source'] = 'Get-WindowsFeature'
        $d['listed'] = $all.Count
        $d['installed'] = $names.ToArray()
    } catch {
        $d['source'] = 'unavailable'
        $d['installed'] = New-Unreadable ('Get-WindowsFeature failed: ' + $_.Exception.Message)
    }
    try {
        $ids = New-Object System.Collections.ArrayList
        foreach ($f in @(Get-WmiObject -Class Win32_ServerFeature)) { [void]$ids.Add([int]$f.ID) }
        $d['server_feature_ids'] = $ids.ToArray()
    } catch { $d['server_feature_ids'] = New-Unreadable ('Win32_ServerFeature failed: ' + $_.Exception.Message) }
    $d
}

Invoke-Part 'sql' {
    $d = New-Dict
    $inst = New-Object System.Collections.ArrayList
    foreach ($root in @('HKLM:\SOFTWARE\Microsoft\Microsoft SQL Server',
                        'HKLM:\SOFTWARE\Wow6432Node\Microsoft\Microsoft SQL Server')) {
        $k = Open-RegKey ($root + '\Instance Names\SQL')
        if (Test-Marker $k) { if ($k.Contains('_absent')) { continue } else { throw $k['_unreadable'] } }
        foreach ($name in @($k.GetValueNames())) {
            $id = [string]$k.GetValue($name)
            $setup = $root + '\' + $id + '\Setup'
            $x = New-Dict
            $x['instance'] = [string]$name
            $x['instance_id'] = $id
            $x['wow64'] = ($root -like '*Wow6432Node*')
            $x['edition'] = Read-RegValue $setup 'Edition'
            $x['edition_type'] = Read-RegValue $setup 'EditionType'
            $x['version'] = Read-RegValue $setup 'Version'
            $x['patch_level'] = Read-RegValue $setup 'PatchLevel'
            [void]$inst.Add($x)
        }
    }
    $d['instances'] = $inst.ToArray()
    $ldb = New-Object System.Collections.ArrayList
    $lk = Open-RegKey 'HKLM:\SOFTWARE\Microsoft\Microsoft SQL Server Local DB\Installed Versions'
    if (-not (Test-Marker $lk)) { foreach ($c in @($lk.GetSubKeyNames())) { [void]$ldb.Add([string]$c) } }
    elseif ($lk.Contains('_unreadable')) { throw $lk['_unreadable'] }
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
        if ($null -ne $dd.Size) { $x['size_bytes'] = [uint64]$dd.Size } else { $x['size_bytes'] = New-Unreadable 'Win32_DiskDrive reports no Size' }
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
        if ($null -ne $ld.Size) { $x['size_bytes'] = [uint64]$ld.Size } else { $x['size_bytes'] = New-Unreadable 'Win32_LogicalDisk reports no Size' }
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
    } catch { $d['msft_disk'] = New-Unreadable ('MSFT_Disk (root\Microsoft\Windows\Storage, 2012 and later): ' + $_.Exception.Message) }
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
        $code = 'none'
        try { if ($null -ne $_.Exception.ErrorCode) { $code = [string]$_.Exception.ErrorCode } } catch { $code = 'none' }
        $d['wmi_error'] = $code
        return $d
    }
    if ($null -eq $vol) { $d['volume_found'] = $false; return $d }
    $d['volume_found'] = $true
    # A WMI method reports failure in ReturnValue, not by throwing: [int] of a missing
    # status would read as 0 ("off"), so a failed call is unreadable.
    $p = $vol.GetProtectionStatus()
    if ($null -eq $p -or [string]$p.ReturnValue -ne '0' -or $null -eq $p.ProtectionStatus) {
        $d['protection_status'] = New-Unreadable ('GetProtectionStatus failed (ReturnValue ' + [string]$p.ReturnValue + ')')
    } else { $d['protection_status'] = [int]$p.ProtectionStatus }
    $c = $vol.GetConversionStatus()
    if ($null -eq $c -or [string]$c.ReturnValue -ne '0' -or $null -eq $c.ConversionStatus) {
        $d['conversion_status'] = New-Unreadable ('GetConversionStatus failed (ReturnValue ' + [string]$c.ReturnValue + ')')
    } else {
        $d['conversion_status'] = [int]$c.ConversionStatus
        $d['encryption_percentage'] = [int]$c.EncryptionPercentage
    }
    $d
}

Invoke-Part 'updates' {
    $d = New-Dict
    # Hidden updates are still missing: ask for both (IsHidden is not a filter to leave out).
    $criteria = "IsInstalled=0 and Type='Software' and IsHidden=0 or IsInstalled=0 and Type='Software' and IsHidden=1"
    $d['criteria'] = $criteria
    # A WSUS policy makes the default search ask WSUS (only the updates its admin approved).
    $d['use_wu_server'] = Read-RegValue 'HKLM:\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate\AU' 'UseWUServer'
    $d['wu_server'] = Read-RegValue 'HKLM:\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate' 'WUServer'
    $search = {
        param($criteria)
        $ErrorActionPreference = 'Stop'
        $r = New-Object System.Collections.Specialized.OrderedDictionary
        $session = New-Object -ComObject Microsoft.Update.Session
        $searcher = $session.CreateUpdateSearcher()
        $searcher.ServerSelection = 2   # ssWindowsUpdate: Microsoft's servers, whatever WSUS says
        $r['server_selection'] = [int]$searcher.ServerSelection
        try {
            $found = $searcher.Search($criteria)
        } catch {
            $e = $_.Exception
            while ($null -ne $e.InnerException) { $e = $e.InnerException }
            $r['search_ok'] = $false
            $r['search_error'] = [string]$e.Message
            if ($e -is [Runtime.InteropServices.ExternalException]) { $r['hresult'] = ('0x{0:X8}' -f $e.ErrorCode) }
            else { $r['hresult'] = 'none' }
            return ,$r
        }
        $r['search_ok'] = $true
        $r['result_code'] = [int]$found.ResultCode
        $list = New-Object System.Collections.ArrayList
        for ($i = 0; $i -lt $found.Updates.Count; $i++) {
            $u = $found.Updates.Item($i)
            $x = New-Object System.Collections.Specialized.OrderedDictionary
            $x['title'] = [string]$u.Title
            $x['msrc_severity'] = [string]$u.MsrcSeverity
            $kb = New-Object System.Collections.ArrayList
            if ($null -ne $u.KBArticleIDs) { foreach ($k in $u.KBArticleIDs) { [void]$kb.Add([string]$k) } }
            $x['kb'] = $kb.ToArray()
            $x['browse_only'] = [bool]$u.BrowseOnly
            $x['is_hidden'] = [bool]$u.IsHidden
            [void]$list.Add($x)
        }
        $r['updates'] = $list.ToArray()
        return ,$r
    }
    # The search runs in its own runspace with a deadline: a hung search times out this
    # part only (UPDATE_SEARCH_TIMEOUT in facts/windows.py).
    $ps = [System.Management.Automation.PowerShell]::Create()
    [void]$ps.AddScript($search.ToString()).AddArgument($criteria)
    $async = $ps.BeginInvoke()
    if (-not $async.AsyncWaitHandle.WaitOne(600000)) {
        try { [void]$ps.BeginStop($null, $null) } catch { }   # leave it; the part reports the timeout
        throw (New-Object System.TimeoutException 'the Windows Update search did not finish within 600 s')
    }
    $out = @($ps.EndInvoke($async))
    $r = $null
    foreach ($o in $out) {
        if ($o -is [Management.Automation.PSObject]) { $o = $o.BaseObject }
        if ($o -is [System.Collections.IDictionary]) { $r = $o }
    }
    if ($null -eq $r) { throw 'the Windows Update search returned nothing' }
    foreach ($k in @($r.Keys)) { $d[$k] = $r[$k] }
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
    $pf = Read-RegValue 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager\Memory Management' 'PagingFiles'
    if ($pf -is [string]) { $pf = @($pf) }
    $d['paging_files_reg'] = $pf
    $runs = New-Dict
    foreach ($k in @('HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Run',
                     'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\RunOnce',
                     'HKLM:\SOFTWARE\Wow6432Node\Microsoft\Windows\CurrentVersion\Run',
                     'HKLM:\SOFTWARE\Wow6432Node\Microsoft\Windows\CurrentVersion\RunOnce',
                     'Registry::HKEY_USERS\.DEFAULT\Software\Microsoft\Windows\CurrentVersion\Run')) {
        $vals = Get-RawValues $k
        if (-not ((Test-Marker $vals) -and $vals.Contains('_absent'))) { $runs[$k] = $vals }
    }
    # The default user's hive (C:\Users\Default\NTUSER.DAT, the template of new profiles) is
    # not read: reading it would require loading it, a change to the VM. Only loaded hives are read.
    $d['run_keys'] = $runs
    # Startup folders of all users and of the default profile: shortcut targets, script texts.
    $startup = New-Dict
    $shell = New-Object -ComObject WScript.Shell
    foreach ($dir in @((Join-Path $env:ProgramData 'Microsoft\Windows\Start Menu\Programs\StartUp'),
                       (Join-Path $env:SystemDrive 'Users\Default\AppData\Roaming\Microsoft\Windows\Start Menu\Programs\Startup'))) {
        if (-not (Test-Path -LiteralPath $dir)) { continue }
        foreach ($f in @(Get-ChildItem -LiteralPath $dir -Force)) {
            if ($f.PSIsContainer) { continue }
            $ext = ([string]$f.Extension).ToLower()
            try {
                if ($ext -eq '.lnk') {
                    $l = $shell.CreateShortcut($f.FullName)
                    $startup[$f.FullName] = [string]$l.TargetPath + ' ' + [string]$l.Arguments + ' ' + [string]$l.WorkingDirectory
                } elseif (@('.bat', '.cmd', '.ps1', '.vbs', '.js', '.url', '.ini') -contains $ext) {
                    if ($f.Length -gt 65536) { throw 'larger than 64 KiB' }
                    $startup[$f.FullName] = [string]::Join(' ', [string[]]@(Get-Content -LiteralPath $f.FullName))
                } else { $startup[$f.FullName] = [string]$f.FullName }
            } catch { $startup[$f.FullName] = New-Unreadable ('reading ' + $f.FullName + ': ' + [string]$_.Exception.Message) }
        }
    }
    $d['startup_items'] = $startup
    $d['machine_env'] = Get-RawValues 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager\Environment'
    $d
}

Invoke-Part 'sysprep' {
    $d = New-Dict
    $d['generalization_state'] = Read-RegValue 'HKLM:\SYSTEM\Setup\Status\SysprepStatus' 'GeneralizationState'
    $d['cleanup_state'] = Read-RegValue 'HKLM:\SYSTEM\Setup\Status\SysprepStatus' 'CleanupState'
    $d['image_state'] = Read-RegValue 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Setup\State' 'ImageState'
    $ct = Read-RegValue 'HKLM:\SYSTEM\Setup' 'CloneTag'
    if ($ct -is [string]) { $ct = @($ct) }
    $d['clone_tag'] = $ct
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
    $d['builtin_admin_name'] = New-Absent 'no local account with a SID ending in -500'
    $d['builtin_admin_sid'] = New-Absent 'no local account with a SID ending in -500'
    if ($adm.Count -gt 0) {
        $d['builtin_admin_name'] = [string]$adm[0].Name
        $d['builtin_admin_sid'] = [string]$adm[0].SID
        $d['builtin_admin_disabled'] = [bool]$adm[0].Disabled
    }
    $d
}

Invoke-Part 'rdp' {
    $d = New-Dict
    $ts = 'HKLM:\SYSTEM\CurrentControlSet\Control\Terminal Server'
    $d['fDenyTSConnections'] = Read-RegValue $ts 'fDenyTSConnections'
    $d['policy_fDenyTSConnections'] = Read-RegValue 'HKLM:\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services' 'fDenyTSConnections'
    $d['port'] = Read-RegValue ($ts + '\WinStations\RDP-Tcp') 'PortNumber'
    $d['nla'] = Read-RegValue ($ts + '\WinStations\RDP-Tcp') 'UserAuthentication'
    $s = Get-WmiObject -Class Win32_Service -Filter "Name='TermService'"
    $d['termservice_state'] = [string]$s.State
    $d['termservice_start'] = [string]$s.StartMode
    $fw = New-Object -ComObject HNetCfg.FwPolicy2
    $d['fw_current_profiles'] = [int]$fw.CurrentProfileTypes
    $rules = New-Object System.Collections.ArrayList
    # The Remote Desktop group's rules, and every enabled inbound TCP or any-protocol rule
    # (an allow or a block rule on the RDP port outside the group counts too).
    foreach ($r in $fw.Rules) {
        $group = ([string]$r.Grouping -eq '@FirewallAPI.dll,-28752')
        if ($group -or ([bool]$r.Enabled -and [int]$r.Direction -eq 1 -and (@(6, 256) -contains [int]$r.Protocol))) {
            $x = New-Dict
            $x['name'] = [string]$r.Name
            $x['rdp_group'] = $group
            $x['remote_addresses'] = [string]$r.RemoteAddresses
            $x['application_name'] = [string]$r.ApplicationName
            $x['service_name'] = [string]$r.serviceName
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
        $prof[$p] = Read-RegValue ('HKLM:\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy\' + $p) 'EnableFirewall'
    }
    $d['fw_enabled'] = $prof
    $gpo = New-Dict
    foreach ($p in @('DomainProfile', 'PrivateProfile', 'PublicProfile')) {
        $gpo[$p] = Read-RegValue ('HKLM:\SOFTWARE\Policies\Microsoft\WindowsFirewall\' + $p) 'EnableFirewall'
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

# Whether an error record says "path not found" (PowerShell 2.0 wraps the cmdlet's error in an
# ActionPreferenceStopException that carries the original ErrorRecord).
function Test-NotFound($err) {
    return ($err.Exception -is [System.Management.Automation.ItemNotFoundException] -or
            [string]$err.FullyQualifiedErrorId -like 'PathNotFound*' -or
            [string]$err.Exception.ErrorRecord.FullyQualifiedErrorId -like 'PathNotFound*')
}

# WIN-014: the Azure Windows VM agent. The WindowsAzureGuestAgent service runs the agent,
# RdAgent (WaAppAgent.exe) installs and updates it. Several C:\WindowsAzure\GuestAgent_*
# folders can coexist: the version judged is the file version of the executable the
# service's ImagePath names; the registry (GuestAgent key, uninstall entry) is reported.
Invoke-Part 'agent' {
    $d = New-Dict
    $svcs = New-Dict
    foreach ($name in @('WindowsAzureGuestAgent', 'RdAgent')) {
        $s = @(Get-WmiObject -Class Win32_Service -Filter ("Name='" + $name + "'"))
        if ($s.Count -eq 0) {
            # absent only when the service's registry key is absent too (a damaged WMI lists nothing)
            $k = Open-RegKey ('HKLM:\SYSTEM\CurrentControlSet\Services\' + $name)
            if ((Test-Marker $k) -and $k.Contains('_absent')) { $svcs[$name] = New-Absent ('no service named ' + $name) }
            elseif (Test-Marker $k) { $svcs[$name] = $k }
            else { $svcs[$name] = New-Unreadable ('Win32_Service lists no ' + $name + ' but its registry key exists') }
            continue
        }
        $x = New-Dict
        foreach ($p in @(@('start_mode', 'StartMode'), @('state', 'State'))) {
            $v = $s[0].($p[1])
            if ($null -eq $v) { $x[$p[0]] = New-Unreadable ('Win32_Service ' + $name + '.' + $p[1] + ' returned no value') }
            else { $x[$p[0]] = [string]$v }
        }
        $key = 'HKLM:\SYSTEM\CurrentControlSet\Services\' + $name
        $x['image_path'] = Read-RegValue $key 'ImagePath'
        $x['delayed_autostart'] = Read-RegValue $key 'DelayedAutostart'
        $svcs[$name] = $x
    }
    $d['services'] = $svcs
    $ga = $svcs['WindowsAzureGuestAgent']
    if (Test-Marker $ga) {
        $d['exe_path'] = New-Absent 'the WindowsAzureGuestAgent service is not installed'
        $d['file_version'] = New-Absent 'the WindowsAzureGuestAgent service is not installed'
    } elseif (Test-Marker $ga['image_path']) {
        $d['exe_path'] = $ga['image_path']
        $d['file_version'] = $ga['image_path']
    } else {
        $exp = [Environment]::ExpandEnvironmentVariables([string]$ga['image_path']).Trim()
        if ($exp.StartsWith('"')) { $exe = $exp.Split('"')[1] }
        elseif ($exp -match '^(.+?\.exe)(\s|$)') { $exe = $matches[1] }
        else { $exe = $exp }
        $d['exe_path'] = $exe
        try {
            $vi = (Get-Item -LiteralPath $exe -ErrorAction Stop).VersionInfo
            $d['file_version'] = ('{0}.{1}.{2}.{3}' -f $vi.FileMajorPart, $vi.FileMinorPart, $vi.FileBuildPart, $vi.FilePrivatePart)
            $d['file_version_text'] = [string]$vi.FileVersion
        } catch {
            $why = 'reading ' + $exe + ': ' + $_.Exception.Message
            if (Test-NotFound $_) {
                # "not found" also hides a folder that cannot be listed: absent only when its
                # folder lists (or is itself not there)
                try { [void][IO.Directory]::GetFileSystemEntries([IO.Path]::GetDirectoryName($exe)); $why = $null }
                catch {
                    $inner = $_.Exception.InnerException
                    if ($_.Exception -is [IO.DirectoryNotFoundException] -or $inner -is [IO.DirectoryNotFoundException]) { $why = $null }
                    else { $why = 'listing the folder of ' + $exe + ': ' + $_.Exception.Message }
                }
            }
            if ($null -eq $why) { $d['file_version'] = New-Absent ('the service executable ' + $exe + ' does not exist') }
            else { $d['file_version'] = New-Unreadable $why }
        }
    }
    $root = Join-Path $env:SystemDrive 'WindowsAzure'
    try {
        $folders = New-Object System.Collections.ArrayList
        foreach ($f in @(Get-ChildItem -LiteralPath $root -Force -ErrorAction Stop)) {
            if ($f.PSIsContainer -and $f.Name -like 'GuestAgent_*') { [void]$folders.Add([string]$f.Name) }
        }
        $d['folders'] = $folders.ToArray()
    } catch {
        if (Test-NotFound $_) {
            $d['folders'] = New-Absent ($root + ' does not exist') }
        else { $d['folders'] = New-Unreadable ('listing ' + $root + ': ' + $_.Exception.Message) }
    }
    $d['registry_incarnation'] = Read-RegValue 'HKLM:\SOFTWARE\Microsoft\GuestAgent' 'Incarnation'
    $d['registry_version'] = Read-RegValue 'HKLM:\SOFTWARE\Microsoft\GuestAgent' 'GuestAgentVersion'
    $entries = New-Object System.Collections.ArrayList
    try {
        foreach ($u in @('HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall',
                         'HKLM:\SOFTWARE\Wow6432Node\Microsoft\Windows\CurrentVersion\Uninstall')) {
            $k = Open-RegKey $u
            if (Test-Marker $k) { if ($k.Contains('_absent')) { continue } else { throw $k['_unreadable'] } }
            foreach ($sub in @($k.GetSubKeyNames())) {
                $dn = Read-RegValue ($u + '\' + $sub) 'DisplayName'
                if ($dn -is [string] -and $dn -like '*Azure VM Agent*') {
                    $x = New-Dict
                    $x['display_name'] = $dn
                    $x['display_version'] = Read-RegValue ($u + '\' + $sub) 'DisplayVersion'
                    [void]$entries.Add($x)
                }
            }
        }
        $d['uninstall_entries'] = $entries.ToArray()
    } catch { $d['uninstall_entries'] = New-Unreadable ('reading the uninstall entries: ' + $_.Exception.Message) }
    $d
}

$pieces = New-Object System.Collections.ArrayList
foreach ($k in @($collected.Keys)) {
    try { $j = ConvertTo-Json20 $collected[$k] }
    catch { $j = '{"_status":"error","_error":' + (ConvertTo-JsonString ('serializing the part failed: ' + $_.Exception.Message)) + ',"_error_type":"serializer"}' }
    [void]$pieces.Add((ConvertTo-JsonString ([string]$k)) + ':' + $j)
}
$meta = '{"script":"pytest-vmimage windows facts v3","ps_version":' + (ConvertTo-JsonString $PSVersionTable.PSVersion.ToString()) + ',"collected":' + (ConvertTo-Json20 ([DateTime]::UtcNow)) + '}'
[Console]::Out.Write('<<<CERT-JSON>>>{"meta":' + $meta + ',"parts":{' + [string]::Join(',', [string[]]$pieces.ToArray()) + '}}<<<END-CERT-JSON>>>')
[Console]::Out.Flush()
exit 0
"""


ABSENT = "_absent"
UNREADABLE = "_unreadable"
#: Keys of a part that describe the part itself, not the VM.
PART_META = ("_status", "_elapsed_ms", "_error", "_error_type", "_counts")


def _kind_ok(value: Any, kind: type | tuple[type, ...]) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        return False  # JSON true is not the number 1
    return isinstance(value, kinds)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(
        {str: "text", int: "a number", bool: "true/false", list: "a list", dict: "an object"}.get(
            k, k.__name__
        )
        for k in kinds
    )


def recount(part: dict[str, Any]) -> dict[str, Any]:
    """Set ``_counts`` of a part from its lists and objects, as the script does
    (for tools and tests that edit recorded facts)."""
    part["_counts"] = {
        key: len(value)
        for key, value in part.items()
        if key not in PART_META and isinstance(value, (list, dict)) and not _is_marker(value)
    }
    return part


def _is_marker(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and (ABSENT in value or UNREADABLE in value)


@dataclass(frozen=True)
class Service:
    name: str
    path: str
    start_mode: str
    start_name: str


@dataclass(frozen=True)
class Task:
    path: str
    enabled: bool
    trigger_types: tuple[int, ...]
    action_texts: tuple[str, ...]
    read_error: str | None
    run_as: str = ""  # Principal.UserId ("" for a group principal or an unreadable definition)

    @property
    def is_microsoft(self) -> bool:
        return self.path.lower().startswith("\\microsoft\\")


@dataclass(frozen=True)
class PendingUpdate:
    title: str
    msrc_severity: str
    kb: tuple[str, ...]
    is_hidden: bool


@dataclass(frozen=True)
class PhysicalDisk:
    """A disk as Win32_DiskDrive sees it; ``geometry_bytes`` is cylinders x heads x sectors."""

    index: int
    model: str
    geometry_bytes: int | None
    letters: tuple[str, ...]


@dataclass(frozen=True)
class Volume:
    """A local fixed volume (Win32_LogicalDisk DriveType 3); ``id`` is its letter, e.g. ``D:``."""

    id: str
    volume_name: str
    dataloss_warning: bool


@dataclass(frozen=True)
class SqlInstance:
    instance: str
    version: str
    edition: str


@dataclass(frozen=True)
class Ipv6Address:
    interface: str
    address: str
    prefix_origin: str
    loopback: bool


@dataclass(frozen=True)
class FirewallRule:
    """A rule of the Remote Desktop group, or another enabled inbound TCP/any-protocol rule
    (HNetCfg.FwPolicy2: action 1 allow, 0 block; protocol 6 TCP, 256 any)."""

    name: str
    rdp_group: bool
    enabled: bool
    direction: int
    action: int
    protocol: int
    profiles: int
    local_ports: str
    remote_addresses: str
    application_name: str
    service_name: str

    def covers_port(self, port: int) -> bool:
        """Whether the rule's protocol and local ports include TCP ``port``."""
        if self.protocol not in (6, 256):
            return False
        for entry in self.local_ports.replace(" ", "").split(","):
            low, _, high = entry.partition("-")
            if entry == "*" or (self.protocol == 256 and entry == ""):
                return True
            if low.isdigit() and (high or low).isdigit() and int(low) <= port <= int(high or low):
                return True
        return False

    @property
    def reaches_remote_desktop(self) -> bool:
        """Whether the rule applies to the Remote Desktop service (no program or service
        restriction, or svchost.exe / TermService)."""
        program = self.application_name.strip().lower()
        service = self.service_name.strip().lower()
        return (program in ("", "*") or program.endswith("\\svchost.exe")) and service in (
            "",
            "*",
            "termservice",
        )

    @property
    def from_anywhere(self) -> bool:
        """RemoteAddresses ``*`` (any); anything else restricts who can connect."""
        return self.remote_addresses.strip() == "*"


def image_program(image_path: str) -> str:
    """The program a service's ImagePath runs, read as the collection script reads it (before
    expanding variables): the first quoted token, else up to the first ``.exe`` followed by a
    blank or the end, else the whole text."""
    text = image_path.strip()
    if text.startswith('"'):
        return text.split('"')[1]
    match = re.match(r"(.+?\.exe)(\s|$)", text, re.IGNORECASE)
    return match.group(1) if match else text


#: Win32_Service.StartMode values.
START_MODES = ("Auto", "Manual", "Disabled", "Boot", "System")


@dataclass(frozen=True)
class AgentService:
    """A service of the Azure Windows VM agent (``WindowsAzureGuestAgent``, ``RdAgent``)."""

    name: str
    start_mode: str
    state: str
    image_path: str
    delayed: bool  # DelayedAutostart=1 ("Automatic (Delayed Start)")

    @property
    def start_text(self) -> str:
        if self.start_mode == "Auto":
            return "Automatic (delayed)" if self.delayed else "Automatic"
        return self.start_mode


@dataclass(frozen=True)
class Listener:
    transport: str
    port: str
    enabled: str


@dataclass(frozen=True)
class PantherLog:
    """One Panther setupact.log: whether it exists, its time and the last lines matching each
    pattern of the script (generalization_state, generalize, specialize, oobe, image_state)."""

    path: str
    exists: bool
    mtime: str
    matches: dict[str, tuple[str, ...]]


PANTHER_PATTERNS = ("generalization_state", "generalize", "specialize", "oobe", "image_state")

MSRC_SEVERITIES = ("", "Critical", "Important", "Moderate", "Low")
#: System.Net.NetworkInformation.PrefixOrigin names.
PREFIX_ORIGINS = ("Other", "Manual", "WellKnown", "Dhcp", "RouterAdvertisement")
#: ``E:\``, ``E:/`` or a bare ``E:`` (at the end or before a separator), not ``http:`` or ``-k:x``;
#: and a drive-relative ``E:data`` at the start of a word (after a blank, a quote or ``=``).
_DRIVE_REF = re.compile(
    r"(?<![A-Za-z0-9])([A-Za-z]):(?=[\\/]|$|[\s;\"',=|])|(?:^|(?<=[\s\"'=]))([A-Za-z]):(?=[\w.$%~])"
)
_PANTHER_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})")


def drive_letters(text: str) -> list[str]:
    """Drive letters a path or command line refers to (``E:\\...``), upper case, once each."""
    found: list[str] = []
    for match in _DRIVE_REF.finditer(text or ""):
        letter = (match.group(1) or match.group(2)).upper()
        if letter not in found:
            found.append(letter)
    return found


def parse_utc(text: str) -> dt.datetime | None:
    """``2016-03-01T10:22:33Z`` (the script's dates) as an aware datetime, None if it is not one."""
    try:
        return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None


def panther_time(lines: Iterable[str]) -> dt.datetime | None:
    """The newest timestamp of Panther log lines (``2016-03-01 10:22:33, Info ...``, local time)."""
    newest = None
    for line in lines:
        match = _PANTHER_TIME.match(line)
        if not match:
            continue
        try:
            stamp = dt.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.timezone.utc)
        except ValueError:
            continue
        newest = stamp if newest is None or stamp > newest else newest
    return newest


@dataclass
class WindowsFacts:
    """The parts the collection script reported, plus typed accessors for the checks.

    ``parts`` maps a part name (:data:`PARTS`) to what PowerShell reported: the
    part's keys plus ``_status`` (``ok``, ``error`` or ``timeout``), ``_elapsed_ms``,
    ``_error`` and ``_counts`` (how many items each list or object held when the
    part finished, so a list cut short or blanked on the way is unreadable, not empty).
    """

    parts: dict[str, Any]
    admin_user: str = ""
    meta: dict = field(default_factory=dict)

    # -- recording -------------------------------------------------------
    def to_json(self) -> dict:
        """The facts as recorded (``--vm-facts-dir``): values of environment variables and Run
        keys whose name says secret (``*PASSWORD*``, ``*SECRET*``, ``*TOKEN*``, ...) are masked."""
        return {"admin_user": self.admin_user, "meta": self.meta, "parts": _masked(self.parts)}

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
        """One part that completed on the VM, or FactError naming it and why not."""
        value = self.parts.get(name)
        if value is None:
            raise FactError(f"Windows fact part {name!r} was not collected")
        if not isinstance(value, dict):
            raise FactError(f"Windows fact part {name!r} is not an object: {value!r:.200}")
        status = value.get("_status")
        if status in ("error", "timeout") or "error" in value:
            message = value.get("_error", value.get("error", ""))
            kind = value.get("_error_type", value.get("type", ""))
            kind = f" ({kind})" if kind else ""
            elapsed = value.get("_elapsed_ms")
            after = f" after {elapsed / 1000:.0f} s" if _kind_ok(elapsed, int) else ""
            what = "timed out on the VM" + after if status == "timeout" else "failed on the VM"
            raise FactError(f"collecting {name!r} {what}: {message}{kind}")
        if status != "ok":
            raise FactError(
                f"Windows fact part {name!r} did not report completion (_status {status!r}): "
                "it was cut short or is not from this collection script"
            )
        if not isinstance(value.get("_counts"), dict):
            raise FactError(f"Windows fact part {name!r} carries no item counts (_counts)")
        return value

    def fact(self, name: str, key: str) -> Fact:
        """``part(name)[key]`` as a :class:`Fact` (a failed part is a FactError)."""
        part = self.part(name)
        label = f"{name}.{key}"
        if key not in part:
            return Fact.failed("the part did not report it", label)
        value = part[key]
        if value is None:
            return Fact.failed("reported as null (no value)", label)
        if _is_marker(value):
            reason = value.get(ABSENT, value.get(UNREADABLE))
            if not _kind_ok(reason, str) or not reason:
                return Fact.failed(f"garbled marker {value!r:.80}", label)
            return Fact.missing(reason, label) if ABSENT in value else Fact.failed(reason, label)
        if isinstance(value, (list, dict)):
            expected = part["_counts"].get(key)
            if not _kind_ok(expected, int):
                return Fact.failed("no item count was reported for it", label)
            if expected != len(value):
                return Fact.failed(
                    f"the VM reported {expected} items, the facts carry {len(value)} "
                    "(cut short or garbled on the way)",
                    label,
                )
        return Fact.found(value, label)

    def get(self, name: str, key: str) -> Any:
        """``part(name)[key]`` when it was read; absent or unreadable is a FactError."""
        return self.fact(name, key).need()

    def value(
        self,
        name: str,
        key: str,
        kind: type | tuple[type, ...],
        choices: tuple[Any, ...] | None = None,
        absent: Any = ...,
    ) -> Any:
        """A value of the expected type (and one of ``choices``); ``absent`` is returned
        when given and the fact is absent. Anything else is a FactError naming the fact."""
        found = self.fact(name, key)
        if absent is not ... and found.absent:
            return absent
        value = found.need()
        return typed(f"{name}.{key}", value, kind, choices)

    def items(self, name: str, key: str) -> list[dict[str, Any]]:
        """A list of objects (each item an object, else FactError)."""
        items = self.value(name, key, list)
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise FactError(f"{name}.{key}[{i}] is garbled: {item!r:.80}")
        return items

    def records(self, part: str, key: str, cls: type, /, **fields: Any) -> list[Any]:
        """``items`` as ``cls`` instances: each field (the item's key, lower-cased for the
        attribute) checked against its type, or (type, choices)."""
        found = []
        for i, item in enumerate(self.items(part, key)):
            values = {}
            for source, kind in fields.items():
                kind, choices = kind if isinstance(kind, tuple) else (kind, None)
                values[source.lower()] = typed(f"{part}.{key}[{i}].{source}", item.get(source), kind, choices)
            found.append(cls(**values))
        return found

    @property
    def os(self) -> dict[str, Any]:
        return self.part("os")

    @property
    def system_drive(self) -> str:
        return self.drive_letter("os", "system_drive")

    def drive_letter(self, part: str, key: str) -> str:
        """A drive such as ``C:`` (upper case), else FactError."""
        drive = self.value(part, key, str).upper()
        if not re.fullmatch(r"[A-Z]:", drive):
            raise FactError(f"{part}.{key} is garbled: {drive!r:.40} is not a drive")
        return drive

    @property
    def os_version(self) -> tuple[int, int, int]:
        """(major, minor, build) from Win32_OperatingSystem.Version, e.g. (6, 3, 9600)."""
        text = self.value("os", "version", str)
        try:
            numbers = tuple(int(x) for x in text.split(".")[:3])
        except ValueError:
            raise FactError(f"Windows version {text!r} is not numeric") from None
        if len(numbers) != 3:
            raise FactError(f"Windows version {text!r} is not major.minor.build")
        return numbers  # type: ignore[return-value]

    def services(self) -> list[Service]:
        """Every service with its command line and account (Win32_Service)."""
        found = self.records(
            "services", "services", Service, name=str, path=str, start_mode=str, start_name=str
        )
        if not found:
            raise FactError("Win32_Service listed no service (a running Windows has dozens)")
        return found

    def tasks(self) -> list[Task]:
        """Every scheduled task (hidden ones included); a task whose definition could not
        be read keeps ``read_error``."""
        found = []
        for i, item in enumerate(self.items("tasks", "tasks")):
            path = typed(f"tasks.tasks[{i}].path", item.get("path"), str)
            label = f"scheduled task {path}"
            if "read_error" in item:
                found.append(Task(path, True, (), (), str(item["read_error"]) or "unknown error"))
                continue
            triggers = typed(label + " trigger_types", item.get("trigger_types"), list)
            actions = typed(label + " actions", item.get("actions"), list)
            texts = []
            for action in actions:
                if not isinstance(action, dict):
                    raise FactError(f"{label}: an action is garbled: {action!r:.80}")
                parts = [
                    typed(f"{label} action {k}", action.get(k), str)
                    for k in ("path", "arguments", "working_directory")
                ]
                texts.append(" ".join(parts))
            found.append(
                Task(
                    path=path,
                    enabled=typed(label + " enabled", item.get("enabled"), bool),
                    trigger_types=tuple(typed(label + " trigger type", t, int) for t in triggers),
                    action_texts=tuple(texts),
                    read_error=None,
                    run_as=typed(label + " run_as", item.get("run_as"), str),
                )
            )
        if not any(task.is_microsoft for task in found):
            raise FactError("the Task Scheduler listed no \\Microsoft\\ task (every Windows has them)")
        return found

    def pending_updates(self) -> list[PendingUpdate]:
        """The updates the Windows Update search found not installed."""
        found = []
        for i, item in enumerate(self.items("updates", "updates")):
            label = f"updates.updates[{i}]"
            kb = typed(label + ".kb", item.get("kb"), list)
            found.append(
                PendingUpdate(
                    title=typed(label + ".title", item.get("title"), str),
                    msrc_severity=typed(
                        label + ".msrc_severity", item.get("msrc_severity"), str, MSRC_SEVERITIES
                    ),
                    kb=tuple(typed(label + ".kb", k, str) for k in kb),
                    is_hidden=bool(typed(label + ".is_hidden", item.get("is_hidden", False), bool)),
                )
            )
        return found

    def panther_logs(self) -> list[PantherLog]:
        """The Panther logs the script looked at (sysprep's and the deployment's)."""
        logs = []
        for path, log in self.value("sysprep", "panther", dict).items():
            label = f"sysprep.panther[{path}]"
            typed(label, log, dict)
            if not typed(label + ".exists", log.get("exists"), bool):
                logs.append(PantherLog(path, False, "", {}))
                continue
            found = typed(label + ".matches", log.get("matches"), dict)
            matches = {}
            for pattern in PANTHER_PATTERNS:
                lines = typed(f"{label}.matches.{pattern}", found.get(pattern), list)
                matches[pattern] = tuple(typed(f"{label}.matches.{pattern}", x, str) for x in lines)
            logs.append(PantherLog(path, True, typed(label + ".mtime", log.get("mtime"), str), matches))
        return logs

    def physical_disks(self) -> list[PhysicalDisk]:
        found = []
        for i, d in enumerate(self.items("disks", "physical")):
            label = f"disks.physical[{i}]"
            size = d.get("size_bytes")
            letters = typed(label + ".letters", d.get("letters"), list)
            found.append(
                PhysicalDisk(
                    index=typed(label + ".index", d.get("index"), int),
                    model=typed(label + ".model", d.get("model"), str),
                    geometry_bytes=None if size is None else typed(label + ".size_bytes", size, int),
                    letters=tuple(typed(label + ".letters", x, str).upper() for x in letters),
                )
            )
        if not found:
            raise FactError("Win32_DiskDrive lists no disk")
        return found

    def exact_disk_sizes(self) -> dict[int, int]:
        """Disk number -> bytes from MSFT_Disk (2012 and later); empty where it could not be
        read, so the geometry (with a tolerance) is used instead."""
        if not self.fact("disks", "msft_disk").is_value:
            return {}
        sizes = {}
        for i, m in enumerate(self.items("disks", "msft_disk")):
            label = f"disks.msft_disk[{i}]"
            number = typed(label + ".number", m.get("number"), int)
            sizes[number] = typed(label + ".size_bytes", m.get("size_bytes"), int)
        return sizes

    def volumes(self) -> list[Volume]:
        return self.records("disks", "logical", Volume, id=str, volume_name=str, dataloss_warning=bool)

    def sql_instances(self) -> list[SqlInstance]:
        return self.records("sql", "instances", SqlInstance, instance=str, version=str, edition=str)

    def localdb_versions(self) -> list[str]:
        return [typed("sql.localdb_versions", v, str) for v in self.value("sql", "localdb_versions", list)]

    def ipv6_addresses(self) -> list[Ipv6Address]:
        return self.records(
            "ipv6",
            "addresses",
            Ipv6Address,
            interface=str,
            address=str,
            prefix_origin=(str, PREFIX_ORIGINS),
            loopback=bool,
        )

    def rdp_firewall_rules(self) -> list[FirewallRule]:
        return self.records(
            "rdp",
            "fw_rules",
            FirewallRule,
            name=str,
            rdp_group=bool,
            enabled=bool,
            direction=int,
            action=int,
            protocol=int,
            profiles=int,
            local_ports=str,
            remote_addresses=str,
            application_name=str,
            service_name=str,
        )

    def firewall_switch(self, key: str, profile_key: str) -> int | None:
        """EnableFirewall of one profile (``fw_enabled`` or ``fw_enabled_policy``): 0/1, or
        None when that registry value is not set."""
        values = self.value("rdp", key, dict)
        label = f"rdp.{key}.{profile_key}"
        if profile_key not in values:
            raise FactError(f"{label} could not be read: the part did not report it")
        value = values[profile_key]
        if _is_marker(value) and ABSENT in value:
            return None
        return typed(label, value, int)

    def agent_service(self, name: str) -> AgentService | None:
        """One service of the VM agent, or None when the script looked and it is not installed."""
        label = f"agent.services.{name}"
        services = self.value("agent", "services", dict)
        if name not in services:
            raise FactError(f"{label} could not be read: the part did not report it")
        entry = services[name]
        if _is_marker(entry) and ABSENT in entry:
            return None
        typed(label, entry, dict)
        delayed = entry.get("delayed_autostart")  # absent: not delayed; missing or null: unreadable
        delayed = (
            0
            if _is_marker(delayed) and ABSENT in delayed
            else typed(label + ".delayed_autostart", delayed, int)
        )
        return AgentService(
            name=name,
            start_mode=typed(label + ".start_mode", entry.get("start_mode"), str, START_MODES),
            state=typed(label + ".state", entry.get("state"), str),
            image_path=typed(label + ".image_path", entry.get("image_path"), str),
            delayed=delayed == 1,
        )

    def agent_file_version(self) -> tuple[int, int, int, int] | None:
        """The file version of the executable the agent service's ImagePath names, or None when
        that file does not exist; a version that cannot be read, or read from a file
        (``agent.exe_path``) that is not the ImagePath's program, is a FactError."""
        service = self.agent_service("WindowsAzureGuestAgent")
        exe = self.value("agent", "exe_path", str)
        program = image_program(service.image_path) if service else ""
        if not service or not re.fullmatch(
            ".+".join(re.escape(p) for p in re.split(r"%[^%]+%", program)), exe.strip(), re.IGNORECASE
        ):
            raise FactError(
                f"agent.exe_path {exe!r:.120} is not the program the WindowsAzureGuestAgent ImagePath "
                f"names ({program!r:.120}): the version read is not the service's"
            )
        text = self.value("agent", "file_version", str, absent=None)
        if text is None:
            return None
        match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)\.(\d+)", text)
        if not match:
            raise FactError(f"agent.file_version is garbled: {text!r:.40} is not a four-part version")
        version = tuple(int(g) for g in match.groups())
        if version == (0, 0, 0, 0):
            raise FactError(f"{self.value('agent', 'exe_path', str)} carries no file version (0.0.0.0)")
        return version  # type: ignore[return-value]

    def winrm_listeners(self) -> list[Listener]:
        return self.records("winrm", "listeners", Listener, Transport=str, Port=str, Enabled=str)

    def wsus_policy(self) -> tuple[int, str]:
        """(UseWUServer, WUServer) of the Windows Update policy; (0, "") where not set."""
        use = typed("updates.use_wu_server", self.fact("updates", "use_wu_server").value_or_absent(0), int)
        server = typed("updates.wu_server", self.fact("updates", "wu_server").value_or_absent(""), str)
        return use, server

    def drive_setting_texts(self) -> list[tuple[str, str]]:
        """(what, text) of every Run key value (HKLM and the .DEFAULT user; not the unloaded
        default user's hive), Startup folder item, page file and machine environment variable."""
        texts = []
        for key, values in self.value("drives", "run_keys", dict).items():
            label = f"Run key {key.split(':', 1)[-1]}"
            for name, value in typed(label, values, dict).items():
                texts.append((f"{label}\\{name}", typed(f"{label}\\{name}", value, str)))
        for field_name in ("pagefile_settings", "pagefile_usage"):
            for value in self.value("drives", field_name, list):
                texts.append(("page file", typed(f"drives.{field_name}", value, str)))
        for value in self.value("drives", "paging_files_reg", list, absent=[]):
            texts.append(("page file (PagingFiles)", typed("drives.paging_files_reg", value, str)))
        for path, text in self.value("drives", "startup_items", dict).items():
            texts.append((f"Startup folder item {path}", typed(f"Startup folder item {path}", text, str)))
        for name, value in self.value("drives", "machine_env", dict).items():
            texts.append((f"environment variable {name}", typed(f"drives.machine_env.{name}", value, str)))
        return texts

    def installed_features(self) -> dict[str, str] | None:
        """Lower-case name -> name of every installed role and feature (Get-WindowsFeature),
        or None when Get-WindowsFeature could not run (use :meth:`server_feature_ids`)."""
        source = self.value("features", "source", str, ("Get-WindowsFeature", "unavailable"))
        if source != "Get-WindowsFeature":
            return None
        if self.value("features", "listed", int) <= 0:
            raise FactError("Get-WindowsFeature listed no feature at all")
        listed = self.value("features", "installed", list)
        return {typed("features.installed", n, str).lower(): n for n in listed}

    def server_feature_ids(self) -> set[int]:
        """Win32_ServerFeature IDs (the fallback where Get-WindowsFeature failed)."""
        listing = self.fact("features", "installed")
        if not listing.is_value and not self.fact("features", "server_feature_ids").is_value:
            raise FactError(
                "installed roles and features cannot be listed: Get-WindowsFeature failed "
                f"({listing.unreadable or listing.absent_reason}) and Win32_ServerFeature failed "
                f"({self.fact('features', 'server_feature_ids').unreadable})"
            )
        ids = self.value("features", "server_feature_ids", list)
        present = {typed("features.server_feature_ids", i, int) for i in ids}
        if not present:
            raise FactError("Win32_ServerFeature listed nothing (a Windows Server always has some features)")
        return present


_SECRET_NAME = re.compile(r"(?i)(password|passwd|secret|token|_psk$|credential|_key(_\d+)?$)")
REDACTED = "REDACTED"
_SECRET_LINE = re.compile(r"(?i)\S*(password|passwd|pwd|secret|token|credential)\S*(\s*[=:]?\s*\S+)?")


def _masked(parts: dict[str, Any]) -> dict[str, Any]:
    """``parts`` with secret-named values of ``drives.machine_env`` and ``drives.run_keys``, and
    words naming a secret (with the word after them) in ``drives.startup_items``, masked."""
    drives = parts.get("drives")
    if not isinstance(drives, dict):
        return parts

    def mask(values: Any) -> Any:
        if not isinstance(values, dict) or _is_marker(values):
            return values
        return {
            k: REDACTED if _SECRET_NAME.search(str(k)) and isinstance(v, str) else v
            for k, v in values.items()
        }

    masked = dict(drives)
    masked["machine_env"] = mask(drives.get("machine_env"))
    if isinstance(drives.get("run_keys"), dict):
        masked["run_keys"] = {key: mask(values) for key, values in drives["run_keys"].items()}
    if isinstance(drives.get("startup_items"), dict):  # script texts: mask lines naming a secret
        masked["startup_items"] = {
            path: _SECRET_LINE.sub(REDACTED, text) if isinstance(text, str) else text
            for path, text in drives["startup_items"].items()
        }
    masked = {k: v for k, v in masked.items() if k in drives}
    return {**parts, "drives": masked}


def typed(
    label: str, value: Any, kind: type | tuple[type, ...], choices: tuple[Any, ...] | None = None
) -> Any:
    """``value`` if it has the expected type (and is one of ``choices``), else FactError naming ``label``."""
    if value is None:
        raise FactError(f"{label} could not be read: reported as null (no value)")
    if _is_marker(value):
        raise FactError(f"{label} could not be read: {value.get(UNREADABLE, value.get(ABSENT))}")
    if not _kind_ok(value, kind):
        raise FactError(f"{label} is garbled: expected {_kind_name(kind)}, found {value!r:.80}")
    if choices is not None and value not in choices:
        raise FactError(f"{label} is garbled: {value!r:.80} is none of {', '.join(map(repr, choices))}")
    return value


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
