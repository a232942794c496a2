; Inno Setup 6 script for hwprof on Windows. NOT BUILT HERE (these machines run Linux; no ISCC.exe):
; its contents are checked by tests/test_packaging.py; CI builds it (packaging/ci/). See
; packaging/README.md. Build: python packaging\build.py  (calls ISCC with the defines below).
;
; Defines from build.py: AppVersion, BundleDir (PyInstaller's one-folder bundle), IconFile (made from
; the SVG at build time), and Sign when HWPROF_SIGNTOOL gives a signing command (ISCC /Shwprofsign=...).
#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#ifndef BundleDir
  #define BundleDir "..\..\build\dist\hwprof"
#endif
#ifndef IconFile
  #define IconFile "..\..\build\icons\hwprof.ico"
#endif

[Setup]
AppId={{6B1F3C52-8E0D-4C38-9D8B-2F3A1E7C9A41}
AppName=hwprof
AppVersion={#AppVersion}
AppVerName=hwprof {#AppVersion}
AppPublisher=hwprof developers
VersionInfoVersion={#AppVersion}
DefaultDirName={autopf}\hwprof
DefaultGroupName=hwprof
DisableProgramGroupPage=yes
LicenseFile=..\..\LICENSE
SetupIconFile={#IconFile}
UninstallDisplayIcon={app}\hwprofw.exe
UninstallDisplayName=hwprof {#AppVersion}
OutputBaseFilename=hwprof-{#AppVersion}-windows-x64-setup
; one solid LZMA2 stream over the whole bundle: much smaller than per-file compression, because
; TensorFlow's and Qt's DLLs share most of their content patterns
Compression=lzma2/max
SolidCompression=yes
LZMANumBlockThreads=4
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
WizardStyle=modern
; per user or for everyone (the association, PATH and Start-menu entries follow the choice)
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
; Explorer re-reads file associations, and running programs see the new PATH, without a restart
ChangesAssociations=yes
ChangesEnvironment=yes
#ifdef Sign
SignTool=hwprofsign
SignedUninstaller=yes
#endif

[Messages]
WelcomeLabel2=This will install hwprof {#AppVersion}.%n%nNote: TensorFlow has no GPU support on native Windows since version 2.10. On Windows hwprof shows your CPUs and NVIDIA GPUs with their live telemetry (AMD and Intel GPUs, Apple GPUs and TPUs are read on Linux and macOS only), and runs TensorFlow and TensorFlow Lite workloads on the CPU. For GPU workloads use WSL2 with the Linux version.

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "assoc"; Description: "Open hwprof snapshots (.hwprof) with hwprof, and offer hwprof for .hwprof.json[.gz]"; GroupDescription: "File types:"
Name: "addtopath"; Description: "Add the hwprof command to PATH (for terminals)"; GroupDescription: "Command line:"

[Files]
#ifdef Sign
; the two programs are signed as they are packed; everything else as PyInstaller made it
Source: "{#BundleDir}\*"; DestDir: "{app}"; Excludes: "\hwprof.exe,\hwprofw.exe"; Flags: ignoreversion recursesubdirs createallsubdirs
Source: "{#BundleDir}\hwprof.exe"; DestDir: "{app}"; Flags: ignoreversion signonce
Source: "{#BundleDir}\hwprofw.exe"; DestDir: "{app}"; Flags: ignoreversion signonce
#else
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
#endif

[Icons]
Name: "{group}\hwprof"; Filename: "{app}\hwprofw.exe"
Name: "{group}\hwprof licences"; Filename: "{app}\_internal\licenses\THIRD-PARTY-NOTICES.txt"
Name: "{group}\Uninstall hwprof"; Filename: "{uninstallexe}"
Name: "{autodesktop}\hwprof"; Filename: "{app}\hwprofw.exe"; Tasks: desktopicon

[Registry]
; .hwprof is hwprof's own type (gzip JSON): Explorer matches the last extension only, so this one
; extension is what makes double-click work. HKA: the user's or the machine's classes, per install.
Root: HKA; Subkey: "Software\Classes\.hwprof"; ValueType: string; ValueName: ""; ValueData: "hwprof.snapshot"; Flags: uninsdeletevalue; Tasks: assoc
Root: HKA; Subkey: "Software\Classes\.hwprof"; ValueType: string; ValueName: "Content Type"; ValueData: "application/x-hwprof-snapshot"; Flags: uninsdeletevalue; Tasks: assoc
Root: HKA; Subkey: "Software\Classes\.hwprof\OpenWithProgids"; ValueType: string; ValueName: "hwprof.snapshot"; ValueData: ""; Flags: uninsdeletevalue; Tasks: assoc
Root: HKA; Subkey: "Software\Classes\hwprof.snapshot"; ValueType: string; ValueName: ""; ValueData: "hwprof snapshot"; Flags: uninsdeletekey; Tasks: assoc
Root: HKA; Subkey: "Software\Classes\hwprof.snapshot\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\hwprofw.exe,0"; Tasks: assoc
Root: HKA; Subkey: "Software\Classes\hwprof.snapshot\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\hwprofw.exe"" ""%1"""; Tasks: assoc
; *.hwprof.json and *.hwprof.json.gz end in .json and .gz, which belong to other programs: hwprof
; is offered in their "Open with" list, never made their default
Root: HKA; Subkey: "Software\Classes\.json\OpenWithProgids"; ValueType: string; ValueName: "hwprof.snapshot"; ValueData: ""; Flags: uninsdeletevalue; Tasks: assoc
Root: HKA; Subkey: "Software\Classes\.gz\OpenWithProgids"; ValueType: string; ValueName: "hwprof.snapshot"; ValueData: ""; Flags: uninsdeletevalue; Tasks: assoc
Root: HKA; Subkey: "Software\Classes\Applications\hwprofw.exe"; ValueType: string; ValueName: "FriendlyAppName"; ValueData: "hwprof"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Applications\hwprofw.exe\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\hwprofw.exe,0"
Root: HKA; Subkey: "Software\Classes\Applications\hwprofw.exe\SupportedTypes"; ValueType: string; ValueName: ".hwprof"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\hwprofw.exe\SupportedTypes"; ValueType: string; ValueName: ".json"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\hwprofw.exe\SupportedTypes"; ValueType: string; ValueName: ".gz"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\hwprofw.exe\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\hwprofw.exe"" ""%1"""
; the CLI (hwprof.exe) on PATH: the user's PATH for a per-user install, the machine's otherwise
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Check: not IsAdminInstallMode and NeedsAddPath(ExpandConstant('{app}')); Tasks: addtopath
Root: HKLM; Subkey: "SYSTEM\CurrentControlSet\Control\Session Manager\Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Check: IsAdminInstallMode and NeedsAddPath(ExpandConstant('{app}')); Tasks: addtopath

[Run]
Filename: "{app}\hwprofw.exe"; Description: "Start hwprof"; Flags: nowait postinstall skipifsilent

[Code]
function EnvironmentRoot(): Integer;
begin
  if IsAdminInstallMode then Result := HKEY_LOCAL_MACHINE else Result := HKEY_CURRENT_USER;
end;

function EnvironmentKey(): String;
begin
  if IsAdminInstallMode then
    Result := 'SYSTEM\CurrentControlSet\Control\Session Manager\Environment'
  else
    Result := 'Environment';
end;

// Whether Dir is not yet an entry of PATH (compared whole, case-insensitively).
function NeedsAddPath(Dir: String): Boolean;
var
  Paths: String;
begin
  if not RegQueryStringValue(EnvironmentRoot(), EnvironmentKey(), 'Path', Paths) then
  begin
    Result := True;
    exit;
  end;
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Paths) + ';') = 0;
end;

// The uninstaller takes the app's folder out of PATH again, leaving every other entry as it was.
procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  Paths, Dir: String;
  P: Integer;
begin
  if CurUninstallStep <> usUninstall then exit;
  if not RegQueryStringValue(EnvironmentRoot(), EnvironmentKey(), 'Path', Paths) then exit;
  Dir := ExpandConstant('{app}');
  P := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Paths) + ';');
  if P = 0 then exit;
  // P counts from the ';' put in front: the entry starts at P in Paths, its ';' after it
  Delete(Paths, P, Length(Dir) + 1);
  if (Length(Paths) > 0) and (Paths[Length(Paths)] = ';') then
    Delete(Paths, Length(Paths), 1);
  RegWriteExpandStringValue(EnvironmentRoot(), EnvironmentKey(), 'Path', Paths);
end;
