// plotly.js-dist-min ships no type declarations: the few calls this playground makes.
declare module 'plotly.js-dist-min' {
  export type Datum = number | string | null;
  export interface PlotData {
    [key: string]: unknown;
  }
  export interface Layout {
    [key: string]: unknown;
  }
  export interface Config {
    [key: string]: unknown;
  }
  export function newPlot(el: HTMLElement, data: PlotData[], layout?: Layout, config?: Config): Promise<HTMLElement>;
  export function react(el: HTMLElement, data: PlotData[], layout?: Layout, config?: Config): Promise<HTMLElement>;
  export function extendTraces(el: HTMLElement, update: Record<string, Datum[][]>, indices: number[], maxPoints?: number): Promise<HTMLElement>;
  export function purge(el: HTMLElement): void;
  export const Plots: { resize(el: HTMLElement): void };
  const Plotly: {
    newPlot: typeof newPlot;
    react: typeof react;
    extendTraces: typeof extendTraces;
    purge: typeof purge;
    Plots: typeof Plots;
  };
  export default Plotly;
}
