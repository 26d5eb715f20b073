import { expect } from 'chai';
import { bar, formatTable, percent } from '../../../src/cli/table.js';

describe('table', () => {
  describe('#formatTable', () => {
    it('pads columns to the widest cell and right-aligns where asked', () => {
      const text = formatTable(['id', 'n'], [['a', '1'], ['long', '100']], ['left', 'right']);
      expect(text).to.equal('id      n\n----  ---\na       1\nlong  100\n');
    });
  });

  describe('#percent', () => {
    it('formats a fraction', () => {
      expect(percent(0.2)).to.equal('20.00%');
      expect(percent(1 / 3, 1)).to.equal('33.3%');
    });
  });

  describe('#bar', () => {
    it('draws full and partial cells and clamps', () => {
      expect(bar(1, 4)).to.equal('████');
      expect(bar(0.5, 4)).to.equal('██');
      expect(bar(0.5, 1)).to.equal('▌');
      expect(bar(1 / 8, 1)).to.equal('▏');
      expect(bar(0, 4)).to.equal('');
      expect(bar(2, 3)).to.equal('███');
    });
  });
});
