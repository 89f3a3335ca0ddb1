/** The keyboard shortcuts, listed where a user looks when nothing is selected. */
const isMac = typeof navigator !== 'undefined' && /Mac/.test(navigator.platform);
const mod = isMac ? '⌘' : 'Ctrl';

export const SHORTCUTS: [string, string][] = [
  [`${mod} Enter`, 'test run'],
  [`${mod} S`, 'save'],
  [`${mod} Z / ${mod} Shift Z`, 'undo / redo'],
  [`${mod} C / ${mod} V`, 'copy / paste nodes'],
  [`${mod} A`, 'select all'],
  ['Delete', 'delete the selection'],
  ['Shift drag', 'select an area'],
  ['N or +', 'add a node after the selected one, wired'],
  ['W', 'wire the selected node to the next one on its right (or to the other selected node)'],
  ['L', 'auto layout'],
  ['F', 'fit the flow in view'],
  ['/', 'search the palette'],
  ['?', 'this list of shortcuts'],
];

export function Shortcuts() {
  return (
    <dl className="shortcuts">
      {SHORTCUTS.map(([k, what]) => (
        <div key={k}>
          <dt>
            <kbd>{k}</kbd>
          </dt>
          <dd>{what}</dd>
        </div>
      ))}
    </dl>
  );
}
