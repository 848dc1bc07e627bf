; Inno Setup 6 script: the Windows installer for the one-folder PyInstaller build in
; dist\homeward (packaging\homeward.spec, built on Windows; steps in README.md, "Building the
; installers").
; UNTESTED: written on a Linux machine with no Windows or Inno Setup to run it on. Check the
; first build by hand: install, run the "self-test" shortcut, start the GUI, uninstall.
;
;   iscc /DAppVersion=0.1.0 packaging\windows\homeward.iss   -> dist\homeward-0.1.0-windows-x64-setup.exe

; desktop/__init__.py's __version__; iscc /DAppVersion=... overrides it.
#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif

[Setup]
AppId={{ED8A40F5-09A4-46F8-BA43-0BD7452A897B}
AppName=Homeward
AppVersion={#AppVersion}
AppPublisher=Homeward
DefaultDirName={autopf}\Homeward
DefaultGroupName=Homeward
DisableProgramGroupPage=yes
; Paths below are relative to this script's folder.
OutputDir=..\..\dist
OutputBaseFilename=homeward-{#AppVersion}-windows-x64-setup
Compression=lzma2
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
; An administrator installs for all users by default; a user without rights may install for
; themselves. Packs imported later go to each user's data folder, never into {app}.
PrivilegesRequiredOverridesAllowed=dialog
UninstallDisplayIcon={app}\homeward.exe
; resources\homeward.ico (also the .exe's own icon, from homeward.spec).
SetupIconFile=..\..\resources\homeward.ico

[Files]
; The whole bundle, including _internal\models\packs (the shipped open pack, read-only).
Source: "..\..\dist\homeward\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
; homeward.exe is a console program (the CLI); the GUI shortcut starts it with "gui".
Name: "{group}\Homeward"; Filename: "{app}\homeward.exe"; Parameters: "gui"; WorkingDir: "{userdocs}"; IconFilename: "{app}\_internal\resources\homeward.ico"
Name: "{group}\Homeward self-test"; Filename: "{cmd}"; Parameters: "/k ""{app}\homeward.exe"" self-test"
Name: "{group}\Homeward command prompt"; Filename: "{cmd}"; Parameters: "/k cd /d ""{app}"" && homeward.exe --help"
Name: "{group}\Uninstall Homeward"; Filename: "{uninstallexe}"

[Run]
; Offered on the last page: the same self-test the README asks for after every install.
Filename: "{cmd}"; Parameters: "/k ""{app}\homeward.exe"" self-test"; Description: "Run the self-test now"; Flags: postinstall nowait skipifsilent
