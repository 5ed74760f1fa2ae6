// The parts of the `espeak-ng` package (eSpeak NG CLI as an Emscripten module) this project uses.
declare module 'espeak-ng' {
  interface EmscriptenFS {
    readFile(path: string): Uint8Array
    writeFile(path: string, data: string | ArrayBufferView): void
    analyzePath(path: string): { exists: boolean }
  }
  interface ESpeakNgModule {
    FS: EmscriptenFS
  }
  interface ESpeakNgOptions {
    /** CLI arguments; main() runs once while the module initialises */
    arguments: string[]
    print?: (line: string) => void
    printErr?: (line: string) => void
    preRun?: Array<(module: ESpeakNgModule) => void>
    instantiateWasm?: (imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void) => WebAssembly.Exports
  }
  export default function ESpeakNg(options: ESpeakNgOptions): Promise<ESpeakNgModule>
}
