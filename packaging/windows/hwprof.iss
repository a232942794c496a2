; Inno Setup 6 script for hwprof on Windows. UNTESTED HERE (built on Linux machines only); see
; packaging/README.md. Build: python packaging\build.py  (calls ISCC with AppVersion and BundleDir).
#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#ifndef BundleDir
  #define BundleDir "..\..\build\dist\hwprof"
#endif

[Setup]
AppId={{6B1F3C52-8E0D-4C38-9D8B-2F3A1E7C9A41}
AppName=hwprof
AppVersion={#AppVersion}
AppPublisher=hwprof developers
DefaultDirName={autopf}\hwprof
DefaultGroupName=hwprof
UninstallDisplayIcon={app}\hwprof.exe
OutputBaseFilename=hwprof-{#AppVersion}-windows-x64-setup
Compression=lzma2/fast
SolidCompression=no
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
WizardStyle=modern
PrivilegesRequiredOverridesAllowed=dialog

[Messages]
WelcomeLabel2=This will install hwprof {#AppVersion}.%n%nNote: TensorFlow has no GPU support on native Windows since version 2.10. On Windows hwprof shows your NVIDIA GPUs and their live telemetry, but runs workloads on the CPU. For GPU workloads use WSL2 with the Linux version.

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "assoc"; Description: "Open .hwprof.json snapshots with hwprof"; GroupDescription: "File types:"

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\hwprof"; Filename: "{app}\hwprofw.exe"
Name: "{group}\Uninstall hwprof"; Filename: "{uninstallexe}"
Name: "{autodesktop}\hwprof"; Filename: "{app}\hwprofw.exe"; Tasks: desktopicon

[Registry]
Root: HKA; Subkey: "Software\Classes\.hwprof.json"; ValueType: string; ValueData: "hwprof.snapshot"; Flags: uninsdeletevalue; Tasks: assoc
Root: HKA; Subkey: "Software\Classes\hwprof.snapshot\shell\open\command"; ValueType: string; ValueData: """{app}\hwprofw.exe"" ""%1"""; Flags: uninsdeletekey; Tasks: assoc

[Run]
Filename: "{app}\hwprofw.exe"; Description: "Start hwprof"; Flags: nowait postinstall skipifsilent
