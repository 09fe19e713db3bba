; Aetheria's Windows installer, made with NSIS's makensis (Debian's `nsis` package cross-builds it on
; Linux; Windows has the same tool). installer/build-windows.sh renders installer/Packager.toml into
; the defines and macros this script includes (`-DCONFIG=...`), so the name, version, publisher,
; shipped resources and the folders of the person's data come from the one packaging description.
;
; Per-user (no administrator rights): the app goes to %LOCALAPPDATA%\Programs\Aetheria, a Start
; menu shortcut and an "Apps & features" entry are made under HKCU. Silent: `setup.exe /S`
; (`/D=C:\path` picks the folder). The uninstaller asks whether to delete the person's settings,
; conversations and models too, unticked; a silent uninstall keeps them unless given /DELETEAPPDATA.

; A 64-bit installer for the 64-bit app (it also runs where Windows has no 32-bit layer).
Target amd64-unicode
ManifestDPIAware true
; LZMA for what is shipped; build-windows.sh asks for zlib in dev builds (a third of the time).
!ifndef COMPRESSOR
  !define COMPRESSOR "/SOLID lzma"
!endif
SetCompressor ${COMPRESSOR}
RequestExecutionLevel user

!include "${CONFIG}"
!include "MUI2.nsh"
!include "LogicLib.nsh"
!include "FileFunc.nsh"
!include "nsDialogs.nsh"

!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${IDENTIFIER}"

Name "${PRODUCT}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\${PRODUCT}"
InstallDirRegKey HKCU "${UNINSTALL_KEY}" "InstallLocation"
BrandingText "${PRODUCT} ${VERSION}"

VIProductVersion "${VERSION_QUAD}"
VIFileVersion "${VERSION_QUAD}"
VIAddVersionKey "ProductName" "${PRODUCT}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${PRODUCT} installer"
VIAddVersionKey "CompanyName" "${PUBLISHER}"
VIAddVersionKey "LegalCopyright" "${COPYRIGHT}"

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN "$INSTDIR\${BINARY}"
!define MUI_FINISHPAGE_RUN_TEXT "Start ${PRODUCT}"

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_LICENSE "${LICENSE}"
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH

UninstPage custom un.DataPage un.DataPageLeave
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "English"

Section "${PRODUCT}" SecMain
  SectionIn RO
  SetOutPath "$INSTDIR"
  File "${BINARY_PATH}"
  File "/oname=${PRODUCT}.ico" "${ICON}"
  !insertmacro InstallResources
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateShortCut "$SMPROGRAMS\${PRODUCT}.lnk" "$INSTDIR\${BINARY}" "" "$INSTDIR\${PRODUCT}.ico" 0

  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\${PRODUCT}.ico"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "URLInfoAbout" "${HOMEPAGE}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "EstimatedSize" $0
SectionEnd

; The uninstaller's one question: the person's own data stays unless they tick the box.
Var DeleteAppData
Var DeleteAppDataBox

Function un.onInit
  StrCpy $DeleteAppData ${BST_UNCHECKED}
  ${GetParameters} $0
  ClearErrors
  ${GetOptions} $0 "/DELETEAPPDATA" $1
  ${IfNot} ${Errors}
    StrCpy $DeleteAppData ${BST_CHECKED}
  ${EndIf}
FunctionEnd

Function un.DataPage
  !insertmacro MUI_HEADER_TEXT "Uninstall ${PRODUCT}" "Remove ${PRODUCT} from this computer."
  nsDialogs::Create 1018
  Pop $0
  ${If} $0 == error
    Abort
  ${EndIf}
  ${NSD_CreateLabel} 0 0 100% 36u "${PRODUCT} will be removed from $INSTDIR.$\r$\n$\r$\nYour settings, conversations, memory and downloaded models are kept unless you tick the box below."
  Pop $0
  ${NSD_CreateCheckbox} 0 44u 100% 12u "Also delete my settings, conversations, memory and models"
  Pop $DeleteAppDataBox
  ${NSD_SetState} $DeleteAppDataBox $DeleteAppData
  nsDialogs::Show
FunctionEnd

Function un.DataPageLeave
  ${NSD_GetState} $DeleteAppDataBox $DeleteAppData
FunctionEnd

Section "Uninstall"
  Delete "$INSTDIR\${BINARY}"
  Delete "$INSTDIR\${PRODUCT}.ico"
  !insertmacro UninstallResources
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\${PRODUCT}.lnk"
  ; The login item `aetheria service install` writes would start a program that is gone.
  Delete "$SMSTARTUP\Aetheria engine.cmd"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
  ${If} $DeleteAppData == ${BST_CHECKED}
    !insertmacro DeleteAppData
  ${EndIf}
SectionEnd
